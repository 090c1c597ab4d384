/* test_srv_parser.c - http/parser.c driven directly on byte strings, no
 * socket: every RFC 9112 case the hardening issues (11, 23) added, as one
 * table, each fed whole, one byte at a time, and cut in two at every byte.
 * The outcome must not depend on how the bytes arrive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/parser.h"
#include "testutil.h"

/* What one input comes to: requests completed, then the error (0: none). */
typedef struct {
  int nreq;
  int err;               /* err_status of SRV_HTTP_ERROR, 0 when the bytes ran out first */
  bool pending;          /* a request begun and not complete when the bytes ran out */
  bool want_continue;    /* Expect: 100-continue seen on the last request */
  char body[64];         /* the body of the last complete request (NUL added) */
  char path[SRV_MAX_URL + 1], query[SRV_MAX_URL + 1], ctype[SRV_MAX_CTYPE + 1], method[16];
} outcome;

static const srv_limits *limits(void) {
  static srv_config cfg;
  static bool done;
  if (!done) {
    srv_config_defaults(&cfg);
    cfg.lim.max_body = 1024;
    cfg.lim.max_header_bytes = 2048;
    cfg.lim.max_headers = 16;
    done = true;
  }
  return &cfg.lim;
}

/* Feed data in pieces of step bytes (0: whole), the first piece cut at
 * first (0: no cut), as conn.c does: what is not used is fed again. */
static void run(const char *data, size_t len, size_t step, size_t first, outcome *o) {
  srv_http h;
  srv_http_block *blk = calloc(1, sizeof *blk);
  size_t off = 0;
  assert_non_null(blk);
  memset(o, 0, sizeof *o);
  srv_http_init(&h, limits());
  h.blk = blk;
  while (off < len) {
    size_t end = len;
    if (first > 0 && off < first)
      end = first;
    else if (step > 0 && len - off > step)
      end = off + step;
    size_t used = 0, n = end - off;
    int ev = srv_http_feed(&h, data + off, n, &used);
    assert_true(used <= n);
    off += used;
    if (ev == SRV_HTTP_ERROR) {
      assert_true(h.err_status >= 400);
      assert_non_null(h.err_code);
      assert_non_null(h.err_msg);
      o->err = h.err_status;
      break;
    }
    if (ev == SRV_HTTP_REQUEST) {
      o->nreq++;
      o->want_continue = h.want_continue;
      snprintf(o->body, sizeof o->body, "%.*s", (int)h.body_len, (const char *)h.body);
      snprintf(o->path, sizeof o->path, "%s", h.path);
      snprintf(o->query, sizeof o->query, "%s", h.query);
      snprintf(o->ctype, sizeof o->ctype, "%s", blk->ctype);
      snprintf(o->method, sizeof o->method, "%s", srv_http_method(&h));
      srv_http_next(&h);
      continue;
    }
    o->want_continue = h.want_continue;
    assert_true(used > 0 || n == 0); /* no progress without an event: conn.c would spin */
  }
  if (o->err == 0)
    o->pending = !srv_http_idle(&h);
  srv_http_release(&h);
  free(blk);
}

#define CHUNKED "Transfer-Encoding: chunked\r\n"
#define POST "POST /echo HTTP/1.1\r\nHost: x\r\n"
#define GET "GET /healthz HTTP/1.1\r\nHost: x\r\n"

typedef struct {
  const char *name;
  const char *in;
  size_t len;   /* 0: strlen(in) */
  int nreq;     /* requests completed before the error or the end */
  int err;      /* 0, or the status of the error */
  const char *body; /* the last request's body, or NULL: not checked */
} rfc_case;

static const rfc_case cases[] = {
    /* accepted */
    {"plain GET", GET "\r\n", 0, 1, 0, ""},
    {"Content-Length body", POST "Content-Length: 3\r\n\r\nabc", 0, 1, 0, "abc"},
    {"chunked body", POST CHUNKED "\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 0, 1, 0, "abcde"},
    {"chunk extension", POST CHUNKED "\r\n3;x=y\r\nabc\r\n0\r\n\r\n", 0, 1, 0, "abc"},
    {"chunked, any case, trailing blanks", POST "transfer-encoding: Chunked \r\n\r\n3\r\nabc\r\n0\r\n\r\n",
     0, 1, 0, "abc"},
    {"HTTP/1.0 without Host", "GET /healthz HTTP/1.0\r\n\r\n", 0, 1, 0, ""},
    {"two pipelined", GET "\r\n" POST "Content-Length: 2\r\n\r\nhi", 0, 2, 0, "hi"},
    {"body at max_body", NULL, 0, 1, 0, NULL}, /* built in test_table */
    /* framing: Transfer-Encoding (issue 23 item 7) */
    {"TE twice", POST CHUNKED CHUNKED "\r\n3\r\nabc\r\n0\r\n\r\n", 0, 0, 400, NULL},
    {"TE chunked, chunked", POST "Transfer-Encoding: chunked, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0, 0,
     400, NULL},
    {"TE gzip, chunked", POST "Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0, 0, 400, NULL},
    {"TE value too long", POST "Transfer-Encoding: chunkedchunkedchunked\r\n\r\n0\r\n\r\n", 0, 0, 400, NULL},
    {"TE empty then CL", POST "Transfer-Encoding:\r\nContent-Length: 3\r\n\r\nabc", 0, 0, 400, NULL},
    {"TE identity", POST "Transfer-Encoding: identity\r\nContent-Length: 3\r\n\r\nabc", 0, 0, 400, NULL},
    /* framing: TE and CL together, CL twice or bad (issue 11 item 8) */
    {"CL then TE", POST "Content-Length: 3\r\n" CHUNKED "\r\n0\r\n\r\n", 0, 0, 400, NULL},
    {"TE then CL", POST CHUNKED "Content-Length: 3\r\n\r\n0\r\n\r\n", 0, 0, 400, NULL},
    {"CL twice, different", POST "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 0, 0, 400, NULL},
    {"CL negative", POST "Content-Length: -5\r\n\r\n", 0, 0, 400, NULL},
    {"CL not a number", POST "Content-Length: abc\r\n\r\n", 0, 0, 400, NULL},
    {"no length on POST", POST "\r\nabc", 0, 0, 411, NULL},
    {"CL past max_body", POST "Content-Length: 100000000\r\n\r\n", 0, 0, 413, NULL},
    /* field names: whitespace before the colon */
    {"space before colon (CL)", POST "Content-Length : 3\r\n\r\nabc", 0, 0, 400, NULL},
    {"tab before colon", GET "X-A\t: 1\r\n\r\n", 0, 0, 400, NULL},
    {"space before colon (TE)", POST "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 0, 0, 400, NULL},
    {"field without colon", GET "Bad Header\r\n\r\n", 0, 0, 400, NULL},
    /* obs-fold, anywhere in the header section */
    {"obs-fold in CL", POST "Content-Length: 3\r\n 0\r\n\r\nabc", 0, 0, 400, NULL},
    {"obs-fold in TE", POST "Transfer-Encoding:\r\n chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0, 0, 400, NULL},
    {"obs-fold with a tab", GET "X-A: a\r\n\tb\r\n\r\n", 0, 0, 400, NULL},
    {"first field folded", "GET /healthz HTTP/1.1\r\n Host: x\r\n\r\n", 0, 0, 400, NULL},
    /* Host: exactly one on HTTP/1.1 */
    {"1.1 without Host", "GET /healthz HTTP/1.1\r\n\r\n", 0, 0, 400, NULL},
    {"Host twice", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 0, 0, 400, NULL},
    {"Host twice on 1.0", "GET /healthz HTTP/1.0\r\nHost: a\r\nhost: a\r\n\r\n", 0, 0, 400, NULL},
    /* duplicates we read ourselves, also after an empty one */
    {"Content-Type empty then again", POST "Content-Type:\r\nContent-Type: application/json\r\n"
     "Content-Length: 2\r\n\r\n{}", 0, 0, 400, NULL},
    {"Authorization twice", GET "Authorization: a\r\nAuthorization: b\r\n\r\n", 0, 0, 400, NULL},
    {"Authorization empty then again", GET "Authorization:\r\nAuthorization: Bearer x\r\n\r\n", 0, 0, 400,
     NULL},
    /* line ends: bare CR is never a line end (RFC 9112 §2.2) */
    {"bare CR in a field value", GET "X-A: a\rb\r\n\r\n", 0, 0, 400, NULL},
    {"bare CR ends the request line", "GET /healthz HTTP/1.1\rHost: x\r\n\r\n", 0, 0, 400, NULL},
    {"bare CR ends a field", GET "X-A: a\rContent-Length: 3\r\n\r\nabc", 0, 0, 400, NULL},
    {"bare LF line ends", "GET /healthz HTTP/1.1\nHost: x\n\n", 0, 1, 0, ""},
    {"bare LF then obs-fold", "GET /healthz HTTP/1.1\nHost: x\n X: y\n\n", 0, 0, 400, NULL},
    {"bare LF in chunk framing", POST CHUNKED "\r\n3\nabc\r\n0\r\n\r\n", 0, 0, 400, NULL},
    /* chunks */
    {"chunk data without CRLF", POST CHUNKED "\r\n3\r\nabcXY", 0, 0, 400, NULL},
    {"chunk data, CR then junk", POST CHUNKED "\r\n3\r\nabc\rX0\r\n\r\n", 0, 0, 400, NULL},
    {"chunk size not hex", POST CHUNKED "\r\nzz\r\nabc\r\n0\r\n\r\n", 0, 0, 400, NULL},
    {"chunk size overflows", POST CHUNKED "\r\nFFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n", 0, 0, 400, NULL},
    {"chunked past max_body", NULL, 0, 0, 413, NULL}, /* built in test_table */
    /* sizes: the header section, fields, values */
    {"header section past max_header_bytes", NULL, 0, 0, 431, NULL}, /* built */
    {"request line past max_header_bytes", NULL, 0, 0, 431, NULL},    /* built */
    {"too many fields", NULL, 0, 0, 431, NULL},                       /* built */
    {"Authorization value too long", NULL, 0, 0, 431, NULL},          /* built */
    /* the request line */
    {"not HTTP", "HELLO WORLD\r\n\r\n", 0, 0, 400, NULL},
    {"NUL in the target", "GET /he\0lthz HTTP/1.1\r\nHost: x\r\n\r\n", 35, 0, 400, NULL},
    {"HTTP/9.9", "GET /healthz HTTP/9.9\r\n\r\n", 0, 0, 505, NULL},
    /* Expect */
    {"Expect other than 100-continue", POST "Expect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 0, 0, 417, NULL},
    /* the error comes after the requests before it, on the same connection */
    {"good then smuggled", GET "\r\n" POST "Content-Length: 3\r\n" CHUNKED "\r\n0\r\n\r\n", 0, 1, 400, NULL},
};

/* The cases whose bytes are too long to write out. */
static char *build(const char *name, size_t *len) {
  char *b = malloc(8192);
  size_t n = 0;
  assert_non_null(b);
  if (strcmp(name, "body at max_body") == 0) {
    n = (size_t)snprintf(b, 8192, POST "Content-Length: 1024\r\n\r\n");
    memset(b + n, 'a', 1024);
    n += 1024;
  } else if (strcmp(name, "chunked past max_body") == 0) {
    n = (size_t)snprintf(b, 8192, POST CHUNKED "\r\n800\r\n");
    memset(b + n, 'a', 2048);
    n += 2048;
    n += (size_t)snprintf(b + n, 8192 - n, "\r\n0\r\n\r\n");
  } else if (strcmp(name, "header section past max_header_bytes") == 0) {
    n = (size_t)snprintf(b, 8192, GET "X-Long: ");
    memset(b + n, 'a', 3000);
    n += 3000;
    n += (size_t)snprintf(b + n, 8192 - n, "\r\n\r\n");
  } else if (strcmp(name, "request line past max_header_bytes") == 0) {
    n = (size_t)snprintf(b, 8192, "GET /");
    memset(b + n, 'b', 4000);
    n += 4000;
    n += (size_t)snprintf(b + n, 8192 - n, " HTTP/1.1\r\nHost: x\r\n\r\n");
  } else if (strcmp(name, "too many fields") == 0) {
    n = (size_t)snprintf(b, 8192, GET);
    for (int i = 0; i < 20; i++)
      n += (size_t)snprintf(b + n, 8192 - n, "X-H%d: v\r\n", i);
    n += (size_t)snprintf(b + n, 8192 - n, "\r\n");
  } else if (strcmp(name, "Authorization value too long") == 0) {
    n = (size_t)snprintf(b, 8192, GET "Authorization: Bearer ");
    memset(b + n, 'c', 1100);
    n += 1100;
    n += (size_t)snprintf(b + n, 8192 - n, "\r\n\r\n");
  } else {
    fail_msg("no builder for %s", name);
  }
  *len = n;
  return b;
}

static void check(const rfc_case *tc, const char *in, size_t len, size_t step, size_t first) {
  outcome o;
  run(in, len, step, first, &o);
  if (o.nreq != tc->nreq || o.err != tc->err)
    fail_msg("%s (step %zu, cut %zu): %d request(s), error %d; want %d, %d", tc->name, step, first,
             o.nreq, o.err, tc->nreq, tc->err);
  if (tc->err == 0 && o.pending)
    fail_msg("%s (step %zu, cut %zu): a request left half read", tc->name, step, first);
  if (tc->body != NULL && strcmp(o.body, tc->body) != 0)
    fail_msg("%s (step %zu, cut %zu): body \"%s\", want \"%s\"", tc->name, step, first, o.body,
             tc->body);
}

/* Every case whole, byte by byte, and cut in two at every byte. */
static void test_table(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const rfc_case *tc = &cases[i];
    char *owned = NULL;
    const char *in = tc->in;
    size_t len = tc->len != 0 ? tc->len : (in != NULL ? strlen(in) : 0);
    if (in == NULL)
      in = owned = build(tc->name, &len);
    check(tc, in, len, 0, 0);
    check(tc, in, len, 1, 0);
    for (size_t cut = 1; cut < len && len <= 512; cut++)
      check(tc, in, len, 0, cut);
    free(owned);
  }
}

/* What a handler reads of a request: method, path, query, headers. */
static void test_request_fields(void **state) {
  static const char req[] = "POST /a/b?x=1&y=2#frag HTTP/1.1\r\nHost: x\r\n"
                            "Content-Type: application/msgpack\r\nContent-Length: 2\r\n\r\nhi";
  outcome o;
  (void)state;
  run(req, sizeof req - 1, 1, 0, &o);
  assert_int_equal(o.nreq, 1);
  assert_string_equal(o.method, "POST");
  assert_string_equal(o.path, "/a/b");
  assert_string_equal(o.query, "x=1&y=2");
  assert_string_equal(o.ctype, "application/msgpack");
  assert_string_equal(o.body, "hi");
}

/* Expect: 100-continue is seen once the headers are in, before the body. */
static void test_expect_continue(void **state) {
  static const char req[] = POST "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n";
  outcome o;
  (void)state;
  run(req, sizeof req - 1, 0, 0, &o);
  assert_int_equal(o.nreq, 0);
  assert_int_equal(o.err, 0);
  assert_true(o.pending);
  assert_true(o.want_continue);
}

/* A request cut anywhere is only ever "more", never an error or a request. */
static void test_incomplete_is_more(void **state) {
  static const char req[] = POST CHUNKED "\r\n3\r\nabc\r\n0\r\n\r\n";
  (void)state;
  for (size_t cut = 1; cut < sizeof req - 1; cut++) {
    outcome o;
    run(req, cut, 1, 0, &o);
    assert_int_equal(o.nreq, 0);
    assert_int_equal(o.err, 0);
    assert_true(o.pending);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_request_fields),
      cmocka_unit_test(test_expect_continue),
      cmocka_unit_test(test_incomplete_is_more),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
