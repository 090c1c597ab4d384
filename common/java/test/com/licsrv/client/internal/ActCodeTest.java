package com.licsrv.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.licsrv.client.Vectors;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** tests/vectors/codes/codes.csv decodes and verifies in Java as in C. */
class ActCodeTest {
  private static List<String[]> rows() {
    String csv = new String(Vectors.read("codes/codes.csv"), StandardCharsets.US_ASCII);
    return csv.lines().skip(1).map(l -> l.split(",")).toList();
  }

  @Test
  void everyVectorCodeParsesVerifiesAndRoundTrips() throws Exception {
    List<byte[]> keys = Vectors.testRoot().rawKeys();
    for (String[] r : rows()) {
      ActCode c = ActCode.parse(r[1]);
      assertEquals(Long.parseLong(r[0]), c.serial);
      assertEquals(Integer.parseInt(r[2]), c.product);
      assertEquals(Integer.parseInt(r[3]), c.edition);
      assertEquals(r[4].equals("never") ? 0 : java.time.LocalDate.parse(r[4])
          .atStartOfDay(java.time.ZoneOffset.UTC).toEpochSecond(), c.expires());
      c.verify(keys, c.product, 1767225600L);
      assertEquals(r[1], c.text());
      assertEquals(r[1], ActCode.parse(r[1].toLowerCase(java.util.Locale.ROOT).replace("-", " ")).text());
    }
  }

  @Test
  void oneSymbolChangedIsATypoNamingItsGroup() {
    String code = rows().get(0)[1];
    char[] t = code.toCharArray();
    t[14] = t[14] == '5' ? '6' : '5'; // inside group 3
    ActCode.Failure f = assertThrows(ActCode.Failure.class, () -> ActCode.parse(new String(t)));
    assertEquals("TYPO", f.kind);
    assertEquals("group 3 has a typo", f.getMessage());
  }

  @Test
  void untrustedWrongProductAndExpiredAreRefused() throws Exception {
    List<String[]> rows = rows();
    ActCode c = ActCode.parse(rows.get(0)[1]);
    assertEquals("NOTGENUINE", assertThrows(ActCode.Failure.class,
        () -> c.verify(List.of(), -1, 0)).kind);
    assertEquals("PRODUCT", assertThrows(ActCode.Failure.class,
        () -> c.verify(Vectors.testRoot().rawKeys(), c.product + 1, 0)).kind);
    ActCode dated = ActCode.parse(rows.get(rows.size() - 1)[1]);
    assertTrue(dated.expires() > 0);
    assertEquals("EXPIRED", assertThrows(ActCode.Failure.class,
        () -> dated.verify(Vectors.testRoot().rawKeys(), -1, dated.expires())).kind);
  }

  @Test
  void shortLongAndForeignSymbolsAreFormatErrors() {
    String code = rows().get(0)[1];
    assertEquals("FORMAT", assertThrows(ActCode.Failure.class,
        () -> ActCode.parse(code.substring(0, 20))).kind);
    assertEquals("FORMAT", assertThrows(ActCode.Failure.class, () -> ActCode.parse(code + "0")).kind);
    assertEquals("FORMAT", assertThrows(ActCode.Failure.class,
        () -> ActCode.parse("#" + code.substring(1))).kind);
  }
}
