/* machine.h - machine identity (SPEC §3.1): machine code and hashed MACs.
 * Honors LIC_SYSROOT=DIR (read etc/... and sys/... under DIR) for tests. */
#ifndef LIC_MACHINE_H
#define LIC_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lic/api.h"

#define LIC_MACHINE_CODE_LEN 19  /* XXXX-XXXX-XXXX-XXXX */
#define LIC_MAC_HASH_LEN     16
#define LIC_MAC_MASKED_LEN   17  /* 52:54:00:**:**:3f */
#define LIC_MAX_LOCAL_MACS   64  /* physical NICs read from one machine */

typedef struct {
  char code[LIC_MACHINE_CODE_LEN + 1];
  size_t nmacs;
  uint8_t mac_hash[LIC_MAX_LOCAL_MACS][LIC_MAC_HASH_LEN];
  char masked[LIC_MAX_LOCAL_MACS][LIC_MAC_MASKED_LEN + 1];
} lic_machine;

/* Read this machine's identity (or LIC_SYSROOT's). LIC_MACHINE when no
 * machine-id can be read. Machines without a physical NIC get nmacs == 0. */
LIC_API int lic_machine_read(lic_machine *m);
/* Machine code from the identity sources (exposed for tests and docs). */
LIC_API void lic_machine_code(const char *machine_id, const char *product_uuid,
                              char code[LIC_MACHINE_CODE_LEN + 1]);
LIC_API void lic_mac_hash(const uint8_t mac[6], uint8_t out[LIC_MAC_HASH_LEN]);
LIC_API void lic_mac_mask(const uint8_t mac[6], char out[LIC_MAC_MASKED_LEN + 1]);
/* Same machine code AND at least one current MAC hash among the bound ones. */
LIC_API bool lic_machine_matches(const lic_machine *m, const char *code, const uint8_t *macs,
                                 size_t nmacs);
/* A well-formed machine code (16 Crockford symbols in 4 dash groups). */
LIC_API bool lic_machine_code_valid(const char *code);

#endif
