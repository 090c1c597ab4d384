/* fuzz_srv_http.c - raw bytes through the request side of the server (parser,
 * limits, request assembly) as conn.c drives it, without sockets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/config.h"
#include "http/parser.h"
#include "http/conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static srv_http_block blk;
  srv_config cfg;
  srv_http h;
  srv_buf out = {0};
  size_t chunk, off = 0;
  if (size < 1)
    return 0;
  srv_config_defaults(&cfg);
  /* Small limits so the fuzzer reaches them; the first byte picks the read size. */
  cfg.lim.max_body = 4096;
  cfg.lim.max_header_bytes = 1024;
  cfg.lim.max_headers = 8;
  chunk = (size_t)(data[0] % 64) + 1;
  data++, size--;
  srv_http_init(&h, &cfg.lim);
  h.blk = &blk;
  while (off < size) {
    size_t n = size - off < chunk ? size - off : chunk, used = 0;
    int ev = srv_http_feed(&h, (const char *)data + off, n, &used);
    if (used > n)
      abort();
    off += used;
    if (ev == SRV_HTTP_ERROR) {
      if (h.err_status < 400 || h.err_code == NULL || h.err_msg == NULL)
        abort();
      srv_format_error(&out, srv_http_wants_msgpack(&h), h.err_code, h.err_msg);
      break;
    }
    if (ev == SRV_HTTP_REQUEST) {
      if (h.path == NULL || strlen(h.path) != h.path_len || h.body_len > cfg.lim.max_body)
        abort();
      if (strlen(blk.ctype) > SRV_MAX_CTYPE || strlen(blk.accept) > SRV_MAX_ACCEPT ||
          strlen(blk.auth) > SRV_MAX_AUTH)
        abort();
      out.len = 0;
      srv_format_response(NULL, &out, 200, blk.ctype, h.body, h.body_len,
                          h.keep_alive ? SRV_CONN_KEEP : SRV_CONN_CLOSE, NULL);
      (void)srv_http_method(&h);
      (void)srv_http_wants_msgpack(&h);
      srv_http_next(&h);
    } else if (used == 0 && n > 0) {
      abort(); /* no progress without an event would loop forever in conn.c */
    }
  }
  srv_http_release(&h);
  srv_buf_free(&out);
  return 0;
}
