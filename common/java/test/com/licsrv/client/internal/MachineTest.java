package com.licsrv.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.junit.jupiter.api.Test;

/** The machine code and MAC hashes agree with liblic (tests/e2e/lictest_formats.py). */
class MachineTest {
  @Test
  void machineCodeWithAndWithoutProductUuid() {
    assertEquals("36B4-VXPJ-8K8W-B72Y",
        Machine.code("0123456789abcdef0123456789abcdef", "4c4c4544-0042-3510-8052-b4c04f4d3232"));
    assertEquals("AV4Y-R0PY-F4YZ-70Q9", Machine.code("0123456789abcdef0123456789abcdef", null));
  }

  @Test
  void allZeroAndMalformedMacsAreSkipped() {
    assertNull(Machine.parseMac("00:00:00:00:00:00"));
    assertNull(Machine.parseMac("52:54:00:12:34"));
    assertEquals(6, Machine.parseMac("52:54:00:12:34:3f").length);
  }

  @Test
  void codeValidityIsTheCanonicalForm() {
    assertEquals(true, Terms.machineCodeValid("7D2K-9QWX-M3RT-HB5P"));
    assertEquals(false, Terms.machineCodeValid("7d2k-9QWX-M3RT-HB5P"));
    assertEquals(false, Terms.machineCodeValid("7D2K-9QWX-M3RT-HB5O"));
  }
}
