package com.licsrv.client.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.licsrv.client.FormatException;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The bounded MessagePack reader on hostile input: only FormatException, never OOM. */
class MpTest {
  private static byte[] map1(String k, byte[] v) {
    return new MpWriter().map(1).str(k).raw(v).toBytes();
  }

  @Test
  void readsEveryIntegerEncoding() {
    long[] vals = {0, 127, 128, 255, 256, 65535, 65536, 4294967295L, 4294967296L, Long.MAX_VALUE,
        -1, -32, -33, -128, -129, -32768, -32769, Integer.MIN_VALUE, Long.MIN_VALUE};
    for (long v : vals) {
      Mp.Obj o = Mp.parse(map1("x", new MpWriter().integer(v).toBytes()));
      assertEquals(v, o.integer("x", Long.MIN_VALUE, Long.MAX_VALUE));
    }
  }

  @Test
  void uint64AboveLongMaxIsRefused() {
    byte[] b = map1("x", Ed25519.hex("cf8000000000000000"));
    FormatException e = assertThrows(FormatException.class,
        () -> Mp.parse(b).integer("x", 0, Long.MAX_VALUE));
    assertEquals(3, e.offset());
  }

  @Test
  void truncatedInputAtEveryLengthIsAFormatException() {
    byte[] full = new MpWriter().map(3).str("a").bin(new byte[40]).str("b").array(2).str("xy")
        .integer(70000).str("c").map(1).str("d").nil().toBytes();
    Mp.parse(full);
    for (int n = 0; n < full.length; n++) {
      byte[] cut = java.util.Arrays.copyOf(full, n);
      assertThrows(FormatException.class, () -> Mp.parse(cut), "prefix of " + n);
    }
  }

  @Test
  void oversizedCountsAreRefusedBeforeAllocation() {
    // array32 / map32 / bin32 / str32 headers claiming 4 GiB with a few bytes behind them
    String[] heads = {"dd ffffffff", "df ffffffff", "c6 ffffffff", "db ffffffff", "dc ffff"};
    for (String h : heads) {
      byte[] b = map1("x", Ed25519.hex(h.replace(" ", "") + "00"));
      FormatException e = assertThrows(FormatException.class, () -> Mp.parse(b), h);
      assertTrue(e.offset() >= 3, h);
    }
    assertThrows(FormatException.class, () -> Mp.parse(Ed25519.hex("dfffffffff")));
  }

  @Test
  void deepNestingIsRefused() {
    MpWriter w = new MpWriter().map(1).str("x");
    for (int i = 0; i < 20; i++) {
      w.array(1);
    }
    w.nil();
    FormatException e = assertThrows(FormatException.class, () -> Mp.parse(w.toBytes()));
    assertTrue(e.getMessage().contains("deeper"));
  }

  @Test
  void millionFoldNestingDoesNotOverflowTheStack() {
    byte[] b = new byte[1_000_000];
    java.util.Arrays.fill(b, (byte) 0x91);
    b[0] = (byte) 0x81;
    b[1] = (byte) 0xa1;
    b[2] = 'x';
    assertThrows(FormatException.class, () -> Mp.parse(b));
  }

  @Test
  void wrongTypesNameTheKey() {
    Mp.Obj o = Mp.parse(new MpWriter().map(4).str("s").integer(1).str("i").str("1").str("b")
        .str("x").str("l").integer(2).toBytes());
    assertTrue(assertThrows(FormatException.class, () -> o.str("s", 0, 9)).getMessage().contains("'s'"));
    assertTrue(assertThrows(FormatException.class, () -> o.integer("i", 0, 9)).getMessage().contains("'i'"));
    assertTrue(assertThrows(FormatException.class, () -> o.bin("b", 0, 9)).getMessage().contains("'b'"));
    assertTrue(assertThrows(FormatException.class, () -> o.strList("l", 9, 0, 9)).getMessage().contains("'l'"));
    assertTrue(assertThrows(FormatException.class, () -> o.str("missing", 0, 9)).getMessage().contains("missing"));
  }

  @Test
  void lengthsAndRangesAreEnforced() {
    Mp.Obj o = Mp.parse(new MpWriter().map(3).str("s").str("abcdef").str("b").bin(new byte[7])
        .str("p").array(1).integer(70000).toBytes());
    assertThrows(FormatException.class, () -> o.str("s", 1, 5));
    assertThrows(FormatException.class, () -> o.binx("b", 8));
    assertThrows(FormatException.class, () -> o.intList("p", 4, 1, 65535));
    assertEquals("abcdef", o.str("s", 1, 6));
  }

  @Test
  void duplicateKeysAndNonStringKeysAreRefused() {
    assertThrows(FormatException.class,
        () -> Mp.parse(new MpWriter().map(2).str("a").nil().str("a").nil().toBytes()));
    assertThrows(FormatException.class,
        () -> Mp.parse(new MpWriter().map(1).integer(1).nil().toBytes()));
  }

  @Test
  void invalidUtf8AndTrailingBytesAreRefused() {
    assertThrows(FormatException.class, () -> Mp.parse(map1("x", Ed25519.hex("a2c0af"))));
    assertThrows(FormatException.class, () -> Mp.parse(Ed25519.hex("80c0")));
    assertThrows(FormatException.class, () -> Mp.parse(Ed25519.hex("c1")));
  }

  @Test
  void tooManyKeysAreRefused() {
    MpWriter w = new MpWriter().map(65);
    for (int i = 0; i < 65; i++) {
      w.str("k" + i).nil();
    }
    assertThrows(FormatException.class, () -> Mp.parse(w.toBytes()));
  }

  @Test
  void randomBytesOnlyEverRaiseFormatException() {
    Random r = new Random(21);
    byte[] seed = com.licsrv.client.Vectors.read("license-private.msgpack");
    for (int i = 0; i < 20000; i++) {
      byte[] b = seed.clone();
      for (int k = 0; k < 1 + r.nextInt(4); k++) {
        b[r.nextInt(b.length)] = (byte) r.nextInt(256);
      }
      try {
        Envelope e = Envelope.decode(java.util.Arrays.copyOf(b, r.nextInt(b.length + 1)));
        e.bodyObj();
      } catch (FormatException expected) {
        // the only allowed failure
      }
    }
  }

  @Test
  void writerRoundTrips() {
    byte[] b = new MpWriter().map(2).str("bin").bin(new byte[300]).str("list")
        .array(2).str("a").str("b").toBytes();
    Mp.Obj o = Mp.parse(b);
    assertArrayEquals(new byte[300], o.bin("bin", 0, 1000));
    assertEquals(List.of("a", "b"), o.strList("list", 9, 1, 9));
  }
}
