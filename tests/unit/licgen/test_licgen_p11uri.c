/* test_licgen_p11uri.c - tests the PKCS#11 URI parser (RFC 7512) behind every
 * licgen --key pkcs11:...: attributes, %-escapes, and what it refuses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lic/err.h"
#include "p11uri.h"

static p11_uri u;

static void ok(const char *s) {
  int rc = p11_uri_parse(s, &u);
  if (rc != LIC_OK)
    fail_msg("%s: %s", s, lic_errdetail());
}

/* Refused, and the detail names the problem. */
static void bad(const char *s, const char *why) {
  assert_int_equal(p11_uri_parse(s, &u), LIC_INVALID);
  if (strstr(lic_errdetail(), why) == NULL)
    fail_msg("%s: detail '%s' lacks '%s'", s, lic_errdetail(), why);
}

static void test_scheme(void **state) {
  (void)state;
  assert_true(p11_uri_is("pkcs11:object=a"));
  assert_true(p11_uri_is("PKCS11:object=a"));
  assert_false(p11_uri_is("vendor.pem"));
  assert_false(p11_uri_is("pkcs11"));
  assert_false(p11_uri_is(NULL));
  bad("vendor.pem", "not a pkcs11: URI");
}

static void test_attributes(void **state) {
  (void)state;
  ok("pkcs11:token=Vendor%20root;object=root-2027;id=%01%ff%00;type=private"
     "?module-path=/usr/lib/softhsm/libsofthsm2.so");
  assert_true(u.has_token);
  assert_string_equal(u.token, "Vendor root");
  assert_string_equal(u.object, "root-2027");
  assert_int_equal(u.id_len, 3);
  assert_memory_equal(u.id, "\x01\xff\x00", 3);
  assert_string_equal(u.type, "private");
  assert_true(u.has_module_path);
  assert_string_equal(u.module_path, "/usr/lib/softhsm/libsofthsm2.so");
  assert_false(u.has_serial);

  ok("pkcs11:manufacturer=SoftHSM%20project;serial=0123abcd;model=SoftHSM%20v2;slot-id=7;"
     "object=a:b@c,d=e&f");
  assert_string_equal(u.manufacturer, "SoftHSM project");
  assert_string_equal(u.serial, "0123abcd");
  assert_string_equal(u.model, "SoftHSM v2");
  assert_true(u.has_slot_id);
  assert_int_equal(u.slot_id, 7);
  assert_string_equal(u.object, "a:b@c,d=e&f"); /* '&' and '=' are plain in the path */
  assert_false(u.has_id);

  ok("pkcs11:"); /* RFC 7512: the empty URI matches anything */
  assert_false(u.has_token || u.has_object || u.has_id || u.has_module_path);
  ok("pkcs11:object=%41%62"); /* escapes in either case */
  assert_string_equal(u.object, "Ab");
  ok("pkcs11:object=%4a%4A");
  assert_string_equal(u.object, "JJ");
}

static void test_refusals(void **state) {
  (void)state;
  bad("pkcs11:object=a;object=b", "given twice");
  bad("pkcs11:id=%01;id=%02", "given twice");
  bad("pkcs11:object=", "empty value");
  bad("pkcs11:object", "not NAME=VALUE");
  bad("pkcs11:=x", "not NAME=VALUE");
  bad("pkcs11:object=a;;token=b", "empty attribute");
  bad("pkcs11:object=a;", "ends with ';'");
  bad("pkcs11:object=a?", "empty query");
  bad("pkcs11:object=a?module-path=/x.so&", "ends with '&'");
  bad("pkcs11:object=%4", "two hex digits");
  bad("pkcs11:object=%", "two hex digits");
  bad("pkcs11:object=%zz", "two hex digits");
  bad("pkcs11:object=a b", "must be %-escaped");
  bad("pkcs11:object=a/b", "must be %-escaped"); /* '/' only in the query */
  bad("pkcs11:object=%00x", "NUL byte");
  bad("pkcs11:label=x", "unknown path attribute 'label'");
  bad("pkcs11:object=a?token=x", "unknown query attribute 'token'");
  bad("pkcs11:module-path=/x.so", "unknown path attribute");
  bad("pkcs11:object=a?pin-value=1234", "never goes in the URI");
  bad("pkcs11:object=a?pin-source=file:/p", "never goes in the URI");
  bad("pkcs11:type=cert", "type=private");
  bad("pkcs11:slot-id=x1", "not a number");
  bad("pkcs11:slot-id=-1", "not a number");
  bad("pkcs11:slot-id=99999999999999999999999", "not a number");
  bad("pkcs11:slot-id=999999999999999999999999", "longer than");

  char longer[P11URI_MAX + 64];
  memset(longer, 'a', sizeof longer);
  memcpy(longer, "pkcs11:object=", 14);
  longer[sizeof longer - 1] = '\0';
  bad(longer, "longer than");
  char label[P11URI_MAX_STR + 20];
  memset(label, 'a', sizeof label);
  memcpy(label, "pkcs11:object=", 14);
  label[14 + P11URI_MAX_STR] = '\0'; /* one byte more than a label holds */
  bad(label, "longer than 255 bytes");
  label[14 + P11URI_MAX_STR - 1] = '\0';
  ok(label);
  assert_int_equal(strlen(u.object), P11URI_MAX_STR - 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scheme),
      cmocka_unit_test(test_attributes),
      cmocka_unit_test(test_refusals),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
