/* test_machine.c - tests machine identity (SPEC §3.1) on fake machines under LIC_SYSROOT. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/sha.h>

#include "lic/err.h"
#include "lic/machine.h"
#include "testutil.h"

static const char CROCKFORD[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* A fresh sysroot per test, exported as LIC_SYSROOT. */
static int setup(void **state) {
  char *d = tu_tmpdir();
  setenv("LIC_SYSROOT", d, 1);
  *state = d;
  return 0;
}

static int teardown(void **state) {
  tu_rmtree(*state);
  free(*state);
  unsetenv("LIC_SYSROOT");
  return 0;
}

/* The machine code as machine.c documents it, computed here:
 * SHA-256("licsrv machine v1\0" "machine-id=" ID "\n" ["product_uuid=" U "\n"]),
 * first 10 bytes, Crockford base32 (16 symbols), 4 dash groups. */
static void expected_code(const char *id, const char *uuid, char out[20]) {
  char msg[512];
  size_t n = 0;
  memcpy(msg, "licsrv machine v1", 17);
  msg[17] = '\0';
  n = 18;
  n += (size_t)snprintf(msg + n, sizeof msg - n, "machine-id=%s\n", id);
  if (uuid != NULL)
    n += (size_t)snprintf(msg + n, sizeof msg - n, "product_uuid=%s\n", uuid);
  uint8_t h[32];
  SHA256((const uint8_t *)msg, n, h);
  /* 80 bits = 16 symbols of 5 bits. */
  char sym[17];
  for (int i = 0; i < 16; i++) {
    int bit = i * 5, v = 0;
    for (int k = 0; k < 5; k++, bit++)
      v = v << 1 | ((h[bit / 8] >> (7 - bit % 8)) & 1);
    sym[i] = CROCKFORD[v];
  }
  snprintf(out, 20, "%.4s-%.4s-%.4s-%.4s", sym, sym + 4, sym + 8, sym + 12);
}

static void expected_mac_hash(const uint8_t mac[6], uint8_t out[16]) {
  uint8_t msg[14 + 6], h[32];
  memcpy(msg, "licsrv mac v1", 13);
  msg[13] = '\0';
  memcpy(msg + 14, mac, 6);
  SHA256(msg, sizeof msg, h);
  memcpy(out, h, 16);
}

static bool has_hash(const lic_machine *m, const uint8_t mac[6]) {
  uint8_t h[16];
  expected_mac_hash(mac, h);
  for (size_t i = 0; i < m->nmacs; i++)
    if (memcmp(m->mac_hash[i], h, 16) == 0)
      return true;
  return false;
}

static const char ID1[] = "0123456789abcdef0123456789abcdef";
static const char ID2[] = "fedcba9876543210fedcba9876543210";
static const char UUID1[] = "4c4c4544-0042-3510-8052-b4c04f4d3232";
static const uint8_t MAC_A[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x3f};
static const uint8_t MAC_B[6] = {0x00, 0x1b, 0x21, 0xab, 0xcd, 0xef};
static const uint8_t MAC_C[6] = {0xa0, 0x36, 0x9f, 0x01, 0x02, 0x03};

static void test_code_format(void **state) {
  const char *d = *state;
  static const char *const nics[] = {"eth0=52:54:00:12:34:3f"};
  tu_fake_machine(d, ID1, UUID1, nics, 1);
  lic_machine m;
  assert_int_equal(lic_machine_read(&m), LIC_OK);
  assert_int_equal(strlen(m.code), 19);
  for (int i = 0; i < 19; i++) {
    if (i % 5 == 4)
      assert_int_equal(m.code[i], '-');
    else
      assert_non_null(strchr(CROCKFORD, m.code[i]));
  }
  assert_true(lic_machine_code_valid(m.code));
  char expect[20];
  expected_code(ID1, UUID1, expect);
  assert_string_equal(m.code, expect);
  /* lic_machine_code agrees with what lic_machine_read computed. */
  char c[20];
  lic_machine_code(ID1, UUID1, c);
  assert_string_equal(c, expect);
  lic_machine_code(ID1, NULL, c);
  expected_code(ID1, NULL, expect);
  assert_string_equal(c, expect);
}

static void test_code_changes_with_sources(void **state) {
  const char *d = *state;
  lic_machine a, b;
  tu_fake_machine(d, ID1, UUID1, NULL, 0);
  assert_int_equal(lic_machine_read(&a), LIC_OK);
  /* Another machine-id. */
  tu_fake_machine(d, ID2, UUID1, NULL, 0);
  assert_int_equal(lic_machine_read(&b), LIC_OK);
  assert_string_not_equal(a.code, b.code);
  /* Another product_uuid. */
  tu_fake_machine(d, ID1, "4c4c4544-0042-3510-8052-b4c04f4d3233", NULL, 0);
  assert_int_equal(lic_machine_read(&b), LIC_OK);
  assert_string_not_equal(a.code, b.code);
  /* The same sources again: the same code (stable). */
  tu_fake_machine(d, ID1, UUID1, NULL, 0);
  assert_int_equal(lic_machine_read(&b), LIC_OK);
  assert_string_equal(a.code, b.code);
  /* Upper-case product_uuid (some firmware) reads as the same machine. */
  tu_fake_machine(d, ID1, "4C4C4544-0042-3510-8052-B4C04F4D3232", NULL, 0);
  assert_int_equal(lic_machine_read(&b), LIC_OK);
  assert_string_equal(a.code, b.code);
  /* Adding a NIC does not change the code. */
  static const char *const nics[] = {"eth0=52:54:00:12:34:3f", "eth1=00:1b:21:ab:cd:ef"};
  tu_fake_machine(d, ID1, UUID1, nics, 2);
  assert_int_equal(lic_machine_read(&b), LIC_OK);
  assert_string_equal(a.code, b.code);
}

static void test_no_product_uuid(void **state) {
  const char *d = *state;
  lic_machine m;
  char expect[20];
  tu_fake_machine(d, ID1, NULL, NULL, 0);
  assert_int_equal(lic_machine_read(&m), LIC_OK);
  expected_code(ID1, NULL, expect);
  assert_string_equal(m.code, expect);
  assert_int_equal(m.nmacs, 0);
}

static void test_no_machine_id(void **state) {
  const char *d = *state;
  lic_machine m;
  assert_int_equal(lic_machine_read(&m), LIC_MACHINE);
  /* An empty /etc/machine-id (first boot) and no dbus id. */
  tu_write(d, "etc/machine-id", "\n");
  assert_int_equal(lic_machine_read(&m), LIC_MACHINE);
}

static void test_dbus_fallback(void **state) {
  const char *d = *state;
  lic_machine m;
  char expect[20];
  tu_write(d, "var/lib/dbus/machine-id", "0123456789abcdef0123456789abcdef\n");
  assert_int_equal(lic_machine_read(&m), LIC_OK);
  expected_code(ID1, NULL, expect);
  assert_string_equal(m.code, expect);
  /* An empty /etc/machine-id falls back too. */
  tu_write(d, "etc/machine-id", "");
  assert_int_equal(lic_machine_read(&m), LIC_OK);
  assert_string_equal(m.code, expect);
  /* /etc/machine-id wins when both exist. */
  tu_write(d, "etc/machine-id", "fedcba9876543210fedcba9876543210\n");
  assert_int_equal(lic_machine_read(&m), LIC_OK);
  expected_code(ID2, NULL, expect);
  assert_string_equal(m.code, expect);
}

static void test_physical_nics_only(void **state) {
  const char *d = *state;
  static const char *const nics[] = {
      "eth0=52:54:00:12:34:3f",           /* physical */
      "enp3s0=00:1b:21:ab:cd:ef",         /* physical */
      "lo=02:00:00:00:00:01",             /* loopback, even with a device link */
      "veth12ab=02:00:00:00:00:02",
      "docker0=02:00:00:00:00:03",
      "br-1234abcd=02:00:00:00:00:04",
      "virt0=02:00:00:00:00:05,virtual",  /* no device link */
      "xbr0=02:00:00:00:00:06",           /* gets a bridge directory below */
      "eth9=00:00:00:00:00:00",           /* all-zero MAC */
  };
  tu_fake_machine(d, ID1, NULL, nics, sizeof nics / sizeof nics[0]);
  tu_write(d, "sys/class/net/xbr0/bridge/bridge_id", "8000.020000000006\n");
  lic_machine m;
  assert_int_equal(lic_machine_read(&m), LIC_OK);
  assert_int_equal(m.nmacs, 2);
  assert_true(has_hash(&m, MAC_A));
  assert_true(has_hash(&m, MAC_B));
  for (uint8_t last = 1; last <= 6; last++) {
    const uint8_t v[6] = {0x02, 0, 0, 0, 0, last};
    assert_false(has_hash(&m, v));
  }
  const uint8_t zero[6] = {0};
  assert_false(has_hash(&m, zero));
  /* Masked forms belong to the same NICs. */
  bool seen_a = false, seen_b = false;
  for (size_t i = 0; i < m.nmacs; i++) {
    seen_a |= strcmp(m.masked[i], "52:54:00:**:**:3f") == 0;
    seen_b |= strcmp(m.masked[i], "00:1b:21:**:**:ef") == 0;
  }
  assert_true(seen_a && seen_b);
}

static void test_uppercase_mac_and_garbage(void **state) {
  const char *d = *state;
  static const char *const nics[] = {"eth0=52:54:00:12:34:3F", "eth1=not-a-mac-address"};
  tu_fake_machine(d, ID1, NULL, nics, 2);
  lic_machine m;
  assert_int_equal(lic_machine_read(&m), LIC_OK);
  assert_int_equal(m.nmacs, 1);
  assert_true(has_hash(&m, MAC_A));
}

static void test_mac_hash_and_mask(void **state) {
  (void)state;
  uint8_t h[16], e[16];
  lic_mac_hash(MAC_A, h);
  expected_mac_hash(MAC_A, e);
  assert_memory_equal(h, e, 16);
  lic_mac_hash(MAC_B, h);
  assert_memory_not_equal(h, e, 16);
  char s[18];
  lic_mac_mask(MAC_A, s);
  assert_string_equal(s, "52:54:00:**:**:3f");
  lic_mac_mask(MAC_B, s);
  assert_string_equal(s, "00:1b:21:**:**:ef");
  static const uint8_t ff[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  lic_mac_mask(ff, s);
  assert_string_equal(s, "ff:ff:ff:**:**:ff");
  assert_int_equal(strlen(s), LIC_MAC_MASKED_LEN);
}

static void hashes(const uint8_t *const *macs, size_t n, uint8_t *out) {
  for (size_t i = 0; i < n; i++)
    expected_mac_hash(macs[i], out + i * 16);
}

static void test_matches(void **state) {
  const char *d = *state;
  lic_machine m;
  static const char *const two[] = {"eth0=52:54:00:12:34:3f", "eth1=00:1b:21:ab:cd:ef"};
  tu_fake_machine(d, ID1, UUID1, two, 2);
  assert_int_equal(lic_machine_read(&m), LIC_OK);
  char code[20];
  snprintf(code, sizeof code, "%s", m.code);
  const uint8_t *lic_macs[] = {MAC_A, MAC_B};
  uint8_t bound[32];
  hashes(lic_macs, 2, bound);
  assert_true(lic_machine_matches(&m, code, bound, 2));

  /* NIC added. */
  static const char *const three[] = {"eth0=52:54:00:12:34:3f", "eth1=00:1b:21:ab:cd:ef",
                                      "eth2=a0:36:9f:01:02:03"};
  tu_fake_machine(d, ID1, UUID1, three, 3);
  assert_int_equal(lic_machine_read(&m), LIC_OK);
  assert_int_equal(m.nmacs, 3);
  assert_true(lic_machine_matches(&m, code, bound, 2));

  /* NIC removed (eth1 gone): one licensed NIC left still matches. */
  tu_rmtree(d);
  static const char *const one[] = {"eth0=52:54:00:12:34:3f"};
  tu_fake_machine(d, ID1, UUID1, one, 1);
  assert_int_equal(lic_machine_read(&m), LIC_OK);
  assert_int_equal(m.nmacs, 1);
  assert_true(lic_machine_matches(&m, code, bound, 2));

  /* Reordered: the NICs under other names / in another order. */
  tu_rmtree(d);
  static const char *const swapped[] = {"eth0=00:1b:21:ab:cd:ef", "eth1=52:54:00:12:34:3f"};
  tu_fake_machine(d, ID1, UUID1, swapped, 2);
  assert_int_equal(lic_machine_read(&m), LIC_OK);
  assert_true(lic_machine_matches(&m, code, bound, 2));
  const uint8_t *rev[] = {MAC_B, MAC_A};
  uint8_t bound_rev[32];
  hashes(rev, 2, bound_rev);
  assert_true(lic_machine_matches(&m, code, bound_rev, 2));

  /* All licensed NICs gone, another one present. */
  tu_rmtree(d);
  static const char *const other[] = {"eth0=a0:36:9f:01:02:03"};
  tu_fake_machine(d, ID1, UUID1, other, 1);
  assert_int_equal(lic_machine_read(&m), LIC_OK);
  assert_string_equal(m.code, code);
  assert_false(lic_machine_matches(&m, code, bound, 2));
  /* No NIC at all. */
  tu_rmtree(d);
  tu_fake_machine(d, ID1, UUID1, NULL, 0);
  assert_int_equal(lic_machine_read(&m), LIC_OK);
  assert_false(lic_machine_matches(&m, code, bound, 2));

  /* Different code, same NICs. */
  tu_rmtree(d);
  tu_fake_machine(d, ID2, UUID1, two, 2);
  assert_int_equal(lic_machine_read(&m), LIC_OK);
  assert_string_not_equal(m.code, code);
  assert_false(lic_machine_matches(&m, code, bound, 2));
  assert_true(lic_machine_matches(&m, m.code, bound, 2));
  /* A license with no MACs, or a mangled code, never matches. */
  assert_false(lic_machine_matches(&m, m.code, bound, 0));
  char shorter[20];
  snprintf(shorter, sizeof shorter, "%.18s", m.code);
  assert_false(lic_machine_matches(&m, shorter, bound, 2));
  char longer[24];
  snprintf(longer, sizeof longer, "%sX", m.code);
  assert_false(lic_machine_matches(&m, longer, bound, 2));
  (void)MAC_C;
}

static void test_code_valid(void **state) {
  (void)state;
  assert_true(lic_machine_code_valid("0123-4567-89AB-CDEF"));
  assert_true(lic_machine_code_valid("GHJK-MNPQ-RSTV-WXYZ"));
  assert_false(lic_machine_code_valid("0123-4567-89ab-cdef")); /* canonical is upper-case */
  assert_false(lic_machine_code_valid("0123-4567-89AB-CDEI"));
  assert_false(lic_machine_code_valid("0123-4567-89AB-CDEL"));
  assert_false(lic_machine_code_valid("0123-4567-89AB-CDEO"));
  assert_false(lic_machine_code_valid("0123-4567-89AB-CDEU"));
  assert_false(lic_machine_code_valid("0123-4567-89AB-CDE*"));
  assert_false(lic_machine_code_valid("01234-567-89AB-CDEF"));
  assert_false(lic_machine_code_valid("0123456789ABCDEF"));
  assert_false(lic_machine_code_valid("0123-4567-89AB-CDE"));
  assert_false(lic_machine_code_valid("0123-4567-89AB-CDEFG"));
  assert_false(lic_machine_code_valid("0123 4567 89AB CDEF"));
  assert_false(lic_machine_code_valid(""));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_code_format, setup, teardown),
      cmocka_unit_test_setup_teardown(test_code_changes_with_sources, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_product_uuid, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_machine_id, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dbus_fallback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_physical_nics_only, setup, teardown),
      cmocka_unit_test_setup_teardown(test_uppercase_mac_and_garbage, setup, teardown),
      cmocka_unit_test(test_mac_hash_and_mask),
      cmocka_unit_test_setup_teardown(test_matches, setup, teardown),
      cmocka_unit_test(test_code_valid),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
