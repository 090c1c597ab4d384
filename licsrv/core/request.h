/* request.h - decoding of verify requests (SPEC §4) from MessagePack or JSON. */
#ifndef LICSRV_REQUEST_H
#define LICSRV_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lic/actcode.h"
#include "lic/limits.h"
#include "lic/machine.h"
#include "lic/receipt.h"
#include "lic/util.h"
#include "lic/verdict.h"

#define SRV_MAX_TOKEN 256
#define SRV_MAX_NODE_SECRET 256

typedef struct {
  uint8_t nonce[LIC_NONCE_MAX];
  size_t nonce_len;
  char domain[LIC_MAX_DOMAIN + 1];
  int64_t port;
  char node[LIC_MAX_NAME + 1];
  bool has_license;
  uint8_t license[LIC_ID_LEN];
  bool has_account, has_project_id;
  uint8_t account[LIC_ID_LEN], project_id[LIC_ID_LEN];
  char token[SRV_MAX_TOKEN + 1];
  char project[LIC_MAX_NAME + 1]; /* register: the project's name */
  char app[LIC_MAX_NAME + 1];     /* "" when not given */
  char version[LIC_MAX_NAME + 1]; /* "" when not given */
  int64_t major;                  /* -1 when no version was given */
  char secret[SRV_MAX_NODE_SECRET + 1]; /* node_secret, "" when not given */
  int64_t revocations_seq; /* the revocation list the client holds, 0 when not given */
} srv_verify_req;

/* Wipe what a request carries that is a secret (token, node_secret). A
 * handler's local request is declared SRV_VERIFY_REQ_WIPED: the compiler
 * wipes it on every exit of its scope, so no early return can skip it
 * (tests/layering/test_secrets_wiped.py checks every handler does). */
void srv_verify_req_wipe(srv_verify_req *q);
#define SRV_VERIFY_REQ_WIPED __attribute__((cleanup(srv_verify_req_wipe)))

/* A node name: 1..LIC_MAX_NAME bytes of UTF-8 without C0/C1 controls, DEL,
 * U+2028/U+2029 or bidirectional marks/overrides/isolates (U+061C, U+200E,
 * U+200F, U+202A..U+202E, U+2066..U+2069). LIC_FORMAT/LIC_LIMIT with a detail. */
int srv_node_name_check(const char *s);

/* LIC_OK, or LIC_FORMAT/LIC_LIMIT/LIC_NOTFOUND with a detail line saying
 * which field is wrong (the caller answers 400 with it). */
int srv_verify_req_msgpack(const uint8_t *body, size_t len, srv_verify_req *q);
int srv_verify_req_json(const uint8_t *body, size_t len, srv_verify_req *q);

/* POST /v1/register: nonce, account, token, project_id, project, domain,
 * port, node required; app, version as in verify. POST /v1/unregister: nonce,
 * account, token, project_id required; node optional ("-" when not given),
 * domain/port ignored. Both into srv_verify_req (has_account set). */
typedef enum { SRV_PUB_REGISTER, SRV_PUB_UNREGISTER } srv_public_kind;
int srv_public_req_msgpack(const uint8_t *body, size_t len, srv_public_kind k, srv_verify_req *q);
int srv_public_req_json(const uint8_t *body, size_t len, srv_public_kind k, srv_verify_req *q);

/* POST /v1/activations: {code: str, machine: str, macs?: [bin16]}. The code
 * is only bounded here (lic_code_parse judges it); the machine code must be
 * well formed (XXXX-XXXX-XXXX-XXXX). Unknown keys are ignored. */
typedef struct {
  char code[LIC_CODE_MAX_INPUT + 1];
  char machine[LIC_MACHINE_CODE_LEN + 1];
  size_t nmacs;
  uint8_t macs[LIC_CLAIM_MAX_MACS][LIC_MAC_HASH_LEN];
} srv_claim_req;

/* Wipe the activation code (NULL: nothing). */
void srv_claim_req_wipe(srv_claim_req *q);
int srv_claim_req_msgpack(const uint8_t *body, size_t len, srv_claim_req *q);
int srv_claim_req_json(const uint8_t *body, size_t len, srv_claim_req *q);

#endif
