/* p11uri.h - PKCS#11 URIs (RFC 7512) naming a key in a token:
 * pkcs11:token=Vendor%20root;object=root-2027?module-path=/usr/lib/x.so */
#ifndef LICGEN_P11URI_H
#define LICGEN_P11URI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define P11URI_MAX     2048 /* bytes of URI we read */
#define P11URI_MAX_ID  128  /* bytes of CKA_ID */
#define P11URI_MAX_STR 256  /* bytes of a label (token labels are 32) */

typedef struct {
  /* the token: CK_TOKEN_INFO's label, manufacturerID, serialNumber, model */
  char token[P11URI_MAX_STR], manufacturer[P11URI_MAX_STR], serial[P11URI_MAX_STR],
      model[P11URI_MAX_STR];
  bool has_token, has_manufacturer, has_serial, has_model;
  /* the object: CKA_LABEL, CKA_ID; type= private|public|secret-key|cert|data */
  char object[P11URI_MAX_STR], type[P11URI_MAX_STR];
  bool has_object, has_type;
  uint8_t id[P11URI_MAX_ID];
  size_t id_len;
  bool has_id;
  unsigned long slot_id;
  bool has_slot_id;
  /* query: module-path (the module to load) */
  char module_path[P11URI_MAX_STR * 4];
  bool has_module_path;
} p11_uri;

/* True when s starts with the scheme "pkcs11:" (any case). */
bool p11_uri_is(const char *s);
/* Parse s into *u. LIC_OK, or LIC_INVALID with lic_errdetail() saying what
 * is wrong (an unknown attribute, a bad %-escape, pin-value given). The PIN
 * never travels in the URI: pin-value and pin-source are refused. */
int p11_uri_parse(const char *s, p11_uri *u);

#endif
