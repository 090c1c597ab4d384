/* http/parser.c - request parsing glue over http_parser: limits enforced before
 * parsing more, interesting headers copied into bounded buffers. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/parser.h"

enum { H_NONE, H_CTYPE, H_ACCEPT, H_AUTH, H_EXPECT, H_TE, H_OTHER };
/* The obs-fold scan: inside a line, at the start of one, after a CR that
 * began a line (the empty line?), done (the header section ended). */
enum { FOLD_IN_LINE, FOLD_LINE_START, FOLD_LINE_CR, FOLD_DONE };

/* RFC 9110 tchar: the bytes a field name may hold (no whitespace: a space
 * before the colon is a smuggling vector behind a proxy, RFC 9112 §5.1). */
static bool is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

#define H(p) ((srv_http *)(p)->data)

static int fail(srv_http *h, int status, const char *code, const char *msg) {
  h->err_status = status;
  h->err_code = code;
  h->err_msg = msg;
  return -1;
}

static int on_message_begin(http_parser *p) {
  srv_http *h = H(p);
  h->in_message = true;
  return 0;
}

static int on_url(http_parser *p, const char *at, size_t len) {
  srv_http *h = H(p);
  if (len > SRV_MAX_URL - h->url_len)
    return fail(h, 414, "uri_too_long", "request target too long");
  memcpy(h->blk->url + h->url_len, at, len);
  h->url_len += len;
  return 0;
}

static int append(srv_http *h, char *dst, size_t *dlen, size_t cap, const char *at, size_t len) {
  if (len > cap - *dlen)
    return fail(h, 431, "headers_too_large", "header value too long");
  memcpy(dst + *dlen, at, len);
  *dlen += len;
  return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len) {
  srv_http *h = H(p);
  if (h->last != 1) {
    if (++h->nheaders > h->lim->max_headers)
      return fail(h, 431, "headers_too_large", "too many header fields");
    h->hname_len = 0;
    h->field = H_NONE;
  }
  h->last = 1;
  for (size_t i = 0; i < len; i++)
    if (!is_tchar((unsigned char)at[i]))
      return fail(h, 400, "bad_request", "invalid character in a header field name");
  if (len > sizeof h->hname - h->hname_len) {
    h->hname_len = sizeof h->hname; /* too long to be one we read */
    return 0;
  }
  memcpy(h->hname + h->hname_len, at, len);
  h->hname_len = (uint8_t)(h->hname_len + len);
  return 0;
}

static bool hname_is(const srv_http *h, const char *name) {
  size_t n = strlen(name);
  return h->hname_len == n && strncasecmp(h->hname, name, n) == 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len) {
  srv_http *h = H(p);
  srv_http_block *b = h->blk;
  if (h->last != 2) { /* first fragment of this value: which header is it */
    h->last = 2;
    h->field = H_OTHER;
    if (hname_is(h, "content-type")) {
      if (h->seen_ctype)
        return fail(h, 400, "bad_request", "duplicate Content-Type");
      h->seen_ctype = true;
      h->field = H_CTYPE;
    } else if (hname_is(h, "accept")) {
      h->field = H_ACCEPT;
      if (h->accept_len > 0 && append(h, b->accept, &h->accept_len, SRV_MAX_ACCEPT, ", ", 2))
        return -1;
    } else if (hname_is(h, "authorization")) {
      if (h->seen_auth)
        return fail(h, 400, "bad_request", "duplicate Authorization");
      h->seen_auth = true;
      h->field = H_AUTH;
    } else if (hname_is(h, "host")) {
      if (++h->nhost > 1)
        return fail(h, 400, "bad_request", "more than one Host header");
    } else if (hname_is(h, "expect")) {
      h->field = H_EXPECT;
    } else if (hname_is(h, "transfer-encoding")) {
      /* One field, exactly "chunked": a second one (or "chunked, chunked")
       * is framing a proxy may read otherwise (RFC 9112 §6.1). */
      if (h->seen_te)
        return fail(h, 400, "bad_request", "duplicate Transfer-Encoding");
      h->seen_te = true;
      h->field = H_TE;
    }
  }
  switch (h->field) {
  case H_CTYPE:
    return append(h, b->ctype, &h->ctype_len, SRV_MAX_CTYPE, at, len);
  case H_ACCEPT:
    return append(h, b->accept, &h->accept_len, SRV_MAX_ACCEPT, at, len);
  case H_AUTH:
    return append(h, b->auth, &h->auth_len, SRV_MAX_AUTH, at, len);
  case H_TE:
    /* Once marked too long, te_len stays past the buffer: test it first, or
     * sizeof te - te_len wraps and a value that arrives in pieces writes past
     * te (fuzz_srv_http found it). */
    if (h->te_len > sizeof h->te || len > sizeof h->te - h->te_len) {
      h->te_len = sizeof h->te + 1; /* too long to be "chunked" */
      return 0;
    }
    memcpy(h->te + h->te_len, at, len);
    h->te_len = (uint8_t)(h->te_len + len);
    return 0;
  case H_EXPECT:
    if (len == 12 && strncasecmp(at, "100-continue", 12) == 0)
      h->want_continue = true;
    else
      return fail(h, 417, "expectation_failed", "only Expect: 100-continue is supported");
    return 0;
  default:
    return 0;
  }
}

static int on_headers_complete(http_parser *p) {
  srv_http *h = H(p);
  srv_http_block *b = h->blk;
  struct http_parser_url u;
  bool chunked = (p->flags & F_CHUNKED) != 0;
  bool has_len = (p->flags & F_CONTENTLENGTH) != 0;
  h->in_headers = false;
  if (h->seen_te) {
    size_t n = h->te_len <= sizeof h->te ? h->te_len : 0;
    while (n > 0 && (h->te[n - 1] == ' ' || h->te[n - 1] == '\t'))
      n--;
    if (n != 7 || strncasecmp(h->te, "chunked", 7) != 0)
      return fail(h, 400, "bad_request", "Transfer-Encoding other than one \"chunked\"");
  }
  if (p->http_major != 1)
    return fail(h, 505, "http_version_not_supported", "only HTTP/1.x is served");
  if (p->http_minor >= 1 && h->nhost == 0) /* RFC 9112 §3.2 */
    return fail(h, 400, "bad_request", "HTTP/1.1 request without a Host header");
  b->url[h->url_len] = '\0';
  b->ctype[h->ctype_len] = '\0';
  b->accept[h->accept_len] = '\0';
  b->auth[h->auth_len] = '\0';
  http_parser_url_init(&u);
  if (h->url_len == 0 || http_parser_parse_url(b->url, h->url_len, p->method == HTTP_CONNECT, &u) != 0)
    return fail(h, 400, "bad_request", "malformed request target");
  if (!(u.field_set & (1 << UF_PATH)))
    return fail(h, 400, "bad_request", "request target has no path");
  h->path = b->url + u.field_data[UF_PATH].off;
  h->path_len = u.field_data[UF_PATH].len;
  h->query = "";
  if (u.field_set & (1 << UF_QUERY)) { /* ends at the fragment or the target's end */
    h->query = b->url + u.field_data[UF_QUERY].off;
    b->url[u.field_data[UF_QUERY].off + u.field_data[UF_QUERY].len] = '\0';
  }
  b->url[u.field_data[UF_PATH].off + h->path_len] = '\0';
  if (has_len && p->content_length > h->lim->max_body)
    return fail(h, 413, "payload_too_large", "request body exceeds max_body");
  if (!has_len && !chunked &&
      (p->method == HTTP_POST || p->method == HTTP_PUT || p->method == HTTP_PATCH))
    return fail(h, 411, "length_required", "Content-Length required");
  if (has_len && p->content_length > SRV_BODY_INLINE) {
    if ((h->body = malloc((size_t)p->content_length)) == NULL)
      return fail(h, 503, "unavailable", "out of memory");
    h->body_cap = (size_t)p->content_length;
  }
  if (!has_len && !chunked)
    h->want_continue = false; /* nothing to continue with */
  return 0;
}

/* A chunk's data must be followed by CRLF (RFC 9112 §7.1); lenient
 * http_parser would take any byte there and wait. Called with the bytes from
 * next on, up to the end of this feed; *left: CRLF bytes still to see. */
static int check_chunk_crlf(srv_http *h, const char *next, const char *end) {
  while (h->chunk_crlf > 0 && next < end) {
    char want = h->chunk_crlf == 2 ? '\r' : '\n';
    if (*next++ != want)
      return fail(h, 400, "bad_request", "chunk data not followed by CRLF");
    h->chunk_crlf--;
  }
  return 0;
}

static int on_body(http_parser *p, const char *at, size_t len) {
  srv_http *h = H(p);
  if ((p->flags & F_CHUNKED) && p->content_length == 0) { /* the chunk's data ends here */
    h->chunk_crlf = 2;
    if (check_chunk_crlf(h, at + len, h->feed_end) != 0)
      return -1;
  }
  if (len > h->lim->max_body - h->body_len)
    return fail(h, 413, "payload_too_large", "request body exceeds max_body");
  if (len > h->body_cap - h->body_len) { /* chunked: grow up to max_body */
    size_t cap = h->body_cap * 2;
    uint8_t *nb;
    if (cap < h->body_len + len)
      cap = h->body_len + len;
    if (cap > h->lim->max_body)
      cap = (size_t)h->lim->max_body;
    if (h->body == h->blk->body_inline) {
      if ((nb = malloc(cap)) != NULL)
        memcpy(nb, h->body, h->body_len);
    } else {
      nb = realloc(h->body, cap);
    }
    if (nb == NULL)
      return fail(h, 503, "unavailable", "out of memory");
    h->body = nb;
    h->body_cap = cap;
  }
  memcpy(h->body + h->body_len, at, len);
  h->body_len += len;
  return 0;
}

static int on_message_complete(http_parser *p) {
  srv_http *h = H(p);
  h->keep_alive = http_should_keep_alive(p) && !p->upgrade;
  h->in_message = false;
  http_parser_pause(p, 1); /* hand the request over before reading the next */
  return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void reset_request(srv_http *h) {
  h->hdr_bytes = h->nheaders = 0;
  h->url_len = h->ctype_len = h->accept_len = h->auth_len = 0;
  h->hname_len = 0;
  h->field = H_NONE;
  h->last = 0;
  h->in_headers = true;
  h->in_message = false;
  h->want_continue = false;
  h->keep_alive = false;
  h->path = "";
  h->path_len = 0;
  h->query = "";
  h->nhost = 0;
  h->seen_ctype = h->seen_auth = h->seen_te = false;
  h->te_len = 0;
  h->fold = FOLD_IN_LINE;
  h->fold_started = false;
  h->chunk_crlf = 0;
  h->body_len = 0;
  h->err_status = 0;
  h->err_code = h->err_msg = NULL;
}

void srv_http_init(srv_http *h, const srv_limits *lim) {
  memset(h, 0, sizeof *h);
  http_parser_init(&h->p, HTTP_REQUEST);
  h->p.data = h;
  h->lim = lim;
  reset_request(h);
}

void srv_http_release(srv_http *h) {
  if (h->body != NULL && (h->blk == NULL || h->body != h->blk->body_inline))
    free(h->body);
  h->body = NULL;
  h->body_cap = 0;
}

void srv_http_next(srv_http *h) {
  if (h->body != NULL && (h->blk == NULL || h->body != h->blk->body_inline))
    srv_http_release(h);
  reset_request(h);
  http_parser_pause(&h->p, 0);
}

bool srv_http_idle(const srv_http *h) { return !h->in_message && h->url_len == 0; }

const char *srv_http_method(const srv_http *h) { return http_method_str((enum http_method)h->p.method); }

int srv_http_feed(srv_http *h, const char *data, size_t len, size_t *used) {
  size_t n = len, got;
  enum http_errno e;
  *used = 0;
  if (h->body == NULL || h->body_cap == 0) {
    h->body = h->blk->body_inline;
    h->body_cap = SRV_BODY_INLINE;
  }
  if (h->in_headers) {
    /* Never hand the parser more header bytes than the limit allows. */
    size_t room = h->lim->max_header_bytes - h->hdr_bytes;
    if (h->hdr_bytes >= h->lim->max_header_bytes)
      room = 0;
    if (n > room)
      n = room;
    if (n == 0 && len > 0) {
      fail(h, 431, "headers_too_large", "request headers exceed max_header_bytes");
      return SRV_HTTP_ERROR;
    }
  }
  /* obs-fold (a header line starting with SP or HT) is rejected outright
   * (RFC 9112 §5.2): scanned in the header section only, across feeds. */
  for (size_t i = 0; i < n && h->fold != FOLD_DONE && h->in_headers; i++) {
    char c = data[i];
    if (!h->fold_started) {
      h->fold_started = c != '\r' && c != '\n'; /* CRLFs before the request line */
      continue;
    }
    if (h->fold == FOLD_LINE_START && (c == ' ' || c == '\t')) {
      fail(h, 400, "bad_request", "obsolete line folding (obs-fold) in the header section");
      return SRV_HTTP_ERROR;
    }
    if (c == '\n')
      h->fold = h->fold == FOLD_LINE_CR || h->fold == FOLD_LINE_START ? FOLD_DONE : FOLD_LINE_START;
    else if (c == '\r')
      h->fold = h->fold == FOLD_LINE_START ? FOLD_LINE_CR : FOLD_IN_LINE;
    else
      h->fold = FOLD_IN_LINE;
  }
  /* The closing CRLF of a chunk that ended with the previous feed. */
  h->feed_end = data + n;
  if (h->chunk_crlf > 0 && !h->in_headers && check_chunk_crlf(h, data, data + n) != 0)
    return SRV_HTTP_ERROR;
  got = http_parser_execute(&h->p, &settings, data, n);
  if (h->in_headers)
    h->hdr_bytes += (uint32_t)got;
  *used = got;
  e = HTTP_PARSER_ERRNO(&h->p);
  if (e == HPE_PAUSED)
    return SRV_HTTP_REQUEST;
  if (e != HPE_OK) {
    if (h->err_status == 0) {
      if (e == HPE_HEADER_OVERFLOW)
        fail(h, 431, "headers_too_large", "request headers too large");
      else
        fail(h, 400, "bad_request", http_errno_description(e));
    }
    return SRV_HTTP_ERROR;
  }
  if (h->in_headers && h->hdr_bytes >= h->lim->max_header_bytes && got < len) {
    fail(h, 431, "headers_too_large", "request headers exceed max_header_bytes");
    return SRV_HTTP_ERROR;
  }
  if (got < n) { /* the parser stopped without an error: treat as malformed */
    fail(h, 400, "bad_request", "malformed request");
    return SRV_HTTP_ERROR;
  }
  return SRV_HTTP_MORE;
}

const char *srv_http_reason(int status) {
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 411: return "Length Required";
  case 413: return "Payload Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 417: return "Expectation Failed";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 503: return "Service Unavailable";
  case 507: return "Insufficient Storage";
  case 505: return "HTTP Version Not Supported";
  default: return status < 300 ? "OK" : status < 500 ? "Bad Request" : "Server Error";
  }
}

const char *srv_http_error_code(int status) {
  switch (status) {
  case 400: return "bad_request";
  case 401: return "unauthorized";
  case 403: return "forbidden";
  case 404: return "not_found";
  case 405: return "method_not_allowed";
  case 408: return "request_timeout";
  case 409: return "conflict";
  case 411: return "length_required";
  case 413: return "payload_too_large";
  case 414: return "uri_too_long";
  case 415: return "unsupported_media_type";
  case 417: return "expectation_failed";
  case 429: return "rate_limited";
  case 431: return "headers_too_large";
  case 503: return "unavailable";
  case 505: return "http_version_not_supported";
  default: return "internal";
  }
}

bool srv_http_wants_msgpack(const srv_http *h) {
  const char *a, *t;
  if (h->blk == NULL || h->in_headers)
    return false; /* headers not (all) read: their buffers are not terminated */
  a = h->blk->accept;
  t = h->blk->ctype;
  if (strstr(a, "application/msgpack") || strstr(a, "application/x-msgpack"))
    return true;
  if (strstr(a, "application/json"))
    return false;
  return strncasecmp(t, "application/msgpack", 19) == 0 ||
         strncasecmp(t, "application/x-msgpack", 21) == 0;
}
