package com.licsrv.client.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.licsrv.client.FormatException;
import com.licsrv.client.Vectors;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The armor reader's tolerance (mail clients) and its refusals. */
class ArmorTest {
  private static final byte[] RAW = Vectors.read("license-local.msgpack");
  private static final String TEXT = new String(Vectors.read("license-local.lic"), StandardCharsets.US_ASCII);

  @Test
  void armorAndRawGiveTheSameBytes() {
    assertArrayEquals(RAW, Armor.unarmorAny(TEXT.getBytes(StandardCharsets.US_ASCII)));
    assertArrayEquals(RAW, Armor.unarmorAny(RAW));
  }

  @Test
  void crlfQuotingAndNoFinalNewlineAreAccepted() {
    String mangled = "Hello,\r\nhere it is:\r\n" + TEXT.replace("\n", "\r\n> ").trim();
    assertArrayEquals(RAW, Armor.unarmorAny(mangled.getBytes(StandardCharsets.US_ASCII)));
  }

  @Test
  void truncatedArmorIsRefused() {
    String cut = TEXT.substring(0, TEXT.indexOf("-----END"));
    assertThrows(FormatException.class, () -> Armor.unarmorAny(cut.getBytes(StandardCharsets.US_ASCII)));
  }

  @Test
  void mismatchedLabelsAndGarbageAreRefused() {
    String other = TEXT.replace("-----END LICSRV LICENSE", "-----END LICSRV ACCOUNT");
    assertThrows(FormatException.class, () -> Armor.unarmorAny(other.getBytes(StandardCharsets.US_ASCII)));
    assertThrows(FormatException.class, () -> Armor.unarmorAny("plain text".getBytes(StandardCharsets.US_ASCII)));
    String bad = TEXT.replaceFirst("\n([A-Za-z])", "\n*$1");
    assertThrows(FormatException.class, () -> Armor.unarmorAny(bad.getBytes(StandardCharsets.US_ASCII)));
  }
}
