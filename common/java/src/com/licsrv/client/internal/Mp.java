package com.licsrv.client.internal;

import com.licsrv.client.FormatException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A bounded MessagePack reader for untrusted bytes, like liblic's mp.c: a cursor over a byte
 * array, every length checked against the bytes left before anything is read or allocated, a
 * depth limit, distinct string keys. Errors are {@link FormatException} with the offset. Not
 * thread-safe (a cursor); cheap to create.
 */
public final class Mp {
  public static final int MAX_DEPTH = 8;
  public static final int MAX_KEYS = 64;

  /** Value kinds, as mp.h's lic_mp_type. */
  public enum Kind { NIL, BOOL, INT, FLOAT, STR, BIN, ARRAY, MAP, EXT, INVALID }

  private final byte[] b;
  private int pos;
  private final int end;

  public Mp(byte[] b) {
    this(b, 0, b.length);
  }

  public Mp(byte[] b, int from, int to) {
    if (from < 0 || to > b.length || from > to) {
      throw new IllegalArgumentException("bad range");
    }
    this.b = b;
    this.pos = from;
    this.end = to;
  }

  public int pos() {
    return pos;
  }

  public int left() {
    return end - pos;
  }

  static FormatException fail(String what, long at) {
    return new FormatException(what, at);
  }

  public Kind peek() {
    if (pos >= end) {
      return Kind.INVALID;
    }
    int c = b[pos] & 0xff;
    if (c <= 0x7f || c >= 0xe0) {
      return Kind.INT;
    }
    if (c <= 0x8f) {
      return Kind.MAP;
    }
    if (c <= 0x9f) {
      return Kind.ARRAY;
    }
    if (c <= 0xbf) {
      return Kind.STR;
    }
    switch (c) {
      case 0xc0: return Kind.NIL;
      case 0xc2: case 0xc3: return Kind.BOOL;
      case 0xc4: case 0xc5: case 0xc6: return Kind.BIN;
      case 0xc7: case 0xc8: case 0xc9: return Kind.EXT;
      case 0xca: case 0xcb: return Kind.FLOAT;
      case 0xcc: case 0xcd: case 0xce: case 0xcf:
      case 0xd0: case 0xd1: case 0xd2: case 0xd3: return Kind.INT;
      case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return Kind.EXT;
      case 0xd9: case 0xda: case 0xdb: return Kind.STR;
      case 0xdc: case 0xdd: return Kind.ARRAY;
      case 0xde: case 0xdf: return Kind.MAP;
      default: return Kind.INVALID;
    }
  }

  private void want(Kind k) {
    Kind got = peek();
    if (got == k) {
      return;
    }
    if (pos >= end) {
      throw fail("MessagePack truncated: expected " + name(k), pos);
    }
    throw fail("expected " + name(k) + ", got " + name(got), pos);
  }

  private static String name(Kind k) {
    return k == Kind.INVALID ? "an invalid byte" : k.name().toLowerCase(java.util.Locale.ROOT);
  }

  /** Big-endian unsigned of w bytes after the type byte (w <= 8); advances past both. */
  private long take(int w) {
    if (end - pos < 1 + w) {
      throw fail("MessagePack truncated", pos);
    }
    long v = 0;
    for (int i = 1; i <= w; i++) {
      v = (v << 8) | (b[pos + i] & 0xff);
    }
    pos += 1 + w;
    return v;
  }

  private int count(long n, int at, int minBytesEach) {
    // Every element takes at least minBytesEach bytes: a count larger than the bytes
    // left is malformed before anything is allocated for it.
    if (n < 0 || n > (long) (end - pos) / Math.max(1, minBytesEach)) {
      throw fail("MessagePack count " + Long.toUnsignedString(n) + " exceeds the bytes left", at);
    }
    return (int) n;
  }

  public int map() {
    want(Kind.MAP);
    int at = pos;
    int c = b[pos] & 0xff;
    long n = c <= 0x8f ? take(0) + (c & 0x0f) : take(c == 0xde ? 2 : 4);
    return count(n, at, 2);
  }

  public int array() {
    want(Kind.ARRAY);
    int at = pos;
    int c = b[pos] & 0xff;
    long n = c <= 0x9f ? take(0) + (c & 0x0f) : take(c == 0xdc ? 2 : 4);
    return count(n, at, 1);
  }

  private int rawLen(int c) {
    int at = pos;
    long n;
    switch (c) {
      case 0xa0: case 0xa1: case 0xa2: case 0xa3: case 0xa4: case 0xa5: case 0xa6: case 0xa7:
      case 0xa8: case 0xa9: case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf:
      case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7:
      case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf:
        n = take(0) + (c & 0x1f);
        break;
      case 0xd9: case 0xc4: n = take(1); break;
      case 0xda: case 0xc5: n = take(2); break;
      default: n = take(4); break;
    }
    if (n > end - pos) {
      throw fail("MessagePack length " + n + " exceeds the " + (end - pos) + " bytes left", at);
    }
    return (int) n;
  }

  /** A UTF-8 string (validated, strictly). */
  public String str() {
    want(Kind.STR);
    int at = pos;
    int n = rawLen(b[pos] & 0xff);
    int from = pos;
    pos += n;
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(b, from, n)).toString();
    } catch (CharacterCodingException e) {
      throw fail("string is not valid UTF-8", at);
    }
  }

  public byte[] bin() {
    want(Kind.BIN);
    int n = rawLen(b[pos] & 0xff);
    byte[] out = Arrays.copyOfRange(b, pos, pos + n);
    pos += n;
    return out;
  }

  /** Any integer encoding; values above Long.MAX_VALUE are an error. */
  public long integer() {
    want(Kind.INT);
    int at = pos;
    int c = b[pos] & 0xff;
    if (c <= 0x7f) {
      take(0);
      return c;
    }
    if (c >= 0xe0) {
      take(0);
      return (byte) c;
    }
    switch (c) {
      case 0xcc: return take(1);
      case 0xcd: return take(2);
      case 0xce: return take(4);
      case 0xcf: {
        long v = take(8);
        if (v < 0) {
          throw fail("integer above " + Long.MAX_VALUE, at);
        }
        return v;
      }
      case 0xd0: return (byte) take(1);
      case 0xd1: return (short) take(2);
      case 0xd2: return (int) take(4);
      default: return take(8);
    }
  }

  public boolean bool() {
    want(Kind.BOOL);
    boolean v = (b[pos] & 0xff) == 0xc3;
    take(0);
    return v;
  }

  public boolean nil() {
    if (peek() == Kind.NIL) {
      take(0);
      return true;
    }
    return false;
  }

  /** Skips one whole value (depth-limited, strings UTF-8 checked). */
  public void skip(int depth) {
    if (depth > MAX_DEPTH) {
      throw fail("MessagePack nested deeper than " + MAX_DEPTH, pos);
    }
    int at = pos;
    switch (peek()) {
      case NIL: case BOOL: take(0); return;
      case INT: integer(); return;
      case FLOAT: take((b[pos] & 0xff) == 0xca ? 4 : 8); return;
      case STR: str(); return;
      case BIN: {
        int n = rawLen(b[pos] & 0xff); // before the +=: rawLen moves pos
        pos += n;
        return;
      }
      case EXT: {
        int c = b[pos] & 0xff;
        long n;
        if (c >= 0xd4 && c <= 0xd8) {
          take(0);
          n = 1L + (1L << (c - 0xd4));
        } else {
          n = 1L + take(c == 0xc7 ? 1 : c == 0xc8 ? 2 : 4);
        }
        if (n > end - pos) {
          throw fail("MessagePack ext length exceeds the bytes left", at);
        }
        pos += (int) n;
        return;
      }
      case ARRAY: {
        int n = array();
        for (int i = 0; i < n; i++) {
          skip(depth + 1);
        }
        return;
      }
      case MAP: {
        int n = map();
        for (int i = 0; i < 2 * n; i++) {
          skip(depth + 1);
        }
        return;
      }
      default:
        throw fail(pos >= end ? "MessagePack truncated" : "invalid MessagePack byte", pos);
    }
  }

  /** Reads one map into an {@link Obj} (depth: the nesting the map sits at). */
  public Obj obj(int depth) {
    if (depth > MAX_DEPTH) {
      throw fail("MessagePack nested deeper than " + MAX_DEPTH, pos);
    }
    int at = pos;
    int n = map();
    if (n > MAX_KEYS) {
      throw fail("map has " + n + " keys (at most " + MAX_KEYS + ")", at);
    }
    Map<String, int[]> m = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      int kat = pos;
      if (peek() != Kind.STR) {
        throw fail("map key is not a string", kat);
      }
      String k = str();
      int vfrom = pos;
      skip(depth + 1);
      if (m.put(k, new int[] {vfrom, pos}) != null) {
        throw fail("duplicate map key '" + trunc(k) + "'", kat);
      }
    }
    return new Obj(b, m, depth);
  }

  /** Whole-buffer form: one map ending exactly at the end. */
  public static Obj parse(byte[] buf) {
    Mp r = new Mp(buf);
    Obj o = r.obj(0);
    if (r.left() != 0) {
      throw fail("trailing bytes after the MessagePack map", r.pos);
    }
    return o;
  }

  static String trunc(String s) {
    return s.length() > 32 ? s.substring(0, 32) : s;
  }

  /** A map read into key/value spans, with typed getters for required keys. */
  public static final class Obj {
    private final byte[] b;
    private final Map<String, int[]> kv;
    private final int depth;

    Obj(byte[] b, Map<String, int[]> kv, int depth) {
      this.b = b;
      this.kv = kv;
      this.depth = depth;
    }

    public int size() {
      return kv.size();
    }

    public java.util.Set<String> keys() {
      return kv.keySet();
    }

    public boolean has(String key) {
      return kv.containsKey(key);
    }

    /** A cursor over the value of key (which must be present). */
    public Mp value(String key) {
      int[] span = kv.get(key);
      if (span == null) {
        throw new FormatException("missing required key '" + key + "'", -1);
      }
      return new Mp(b, span[0], span[1]);
    }

    public boolean isNil(String key) {
      return has(key) && value(key).peek() == Kind.NIL;
    }

    private FormatException wrong(String key, Mp v, String what) {
      return new FormatException("'" + key + "': " + what, v.pos());
    }

    public String str(String key, int minLen, int maxLen) {
      Mp v = value(key);
      if (v.peek() != Kind.STR) {
        throw wrong(key, v, "expected str");
      }
      int at = v.pos();
      String s = v.str();
      int n = s.getBytes(StandardCharsets.UTF_8).length;
      if (n < minLen || n > maxLen) {
        throw new FormatException("'" + key + "': " + n + " bytes, expected " + minLen + ".." + maxLen, at);
      }
      if (s.indexOf('\0') >= 0) {
        throw new FormatException("'" + key + "': holds a NUL byte", at);
      }
      return s;
    }

    public long integer(String key, long min, long max) {
      Mp v = value(key);
      if (v.peek() != Kind.INT) {
        throw wrong(key, v, "expected int");
      }
      int at = v.pos();
      long x = v.integer();
      if (x < min || x > max) {
        throw new FormatException("'" + key + "': " + x + " outside " + min + ".." + max, at);
      }
      return x;
    }

    public byte[] bin(String key, int minLen, int maxLen) {
      Mp v = value(key);
      if (v.peek() != Kind.BIN) {
        throw wrong(key, v, "expected bin");
      }
      int at = v.pos();
      byte[] x = v.bin();
      if (x.length < minLen || x.length > maxLen) {
        throw new FormatException("'" + key + "': " + x.length + " bytes, expected "
            + (minLen == maxLen ? Integer.toString(minLen) : minLen + ".." + maxLen), at);
      }
      return x;
    }

    public byte[] binx(String key, int len) {
      return bin(key, len, len);
    }

    public Obj obj(String key) {
      Mp v = value(key);
      if (v.peek() != Kind.MAP) {
        throw wrong(key, v, "expected map");
      }
      return v.obj(depth + 1);
    }

    private int list(String key, Mp v, int maxN) {
      if (v.peek() != Kind.ARRAY) {
        throw wrong(key, v, "expected array");
      }
      int at = v.pos();
      int n = v.array();
      if (n > maxN) {
        throw new FormatException("'" + key + "': " + n + " entries (at most " + maxN + ")", at);
      }
      return n;
    }

    public List<String> strList(String key, int maxN, int minLen, int maxLen) {
      Mp v = value(key);
      int n = list(key, v, maxN);
      List<String> out = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        int at = v.pos();
        if (v.peek() != Kind.STR) {
          throw wrong(key, v, "entries must be str");
        }
        String s = v.str();
        int len = s.getBytes(StandardCharsets.UTF_8).length;
        if (len < minLen || len > maxLen || s.indexOf('\0') >= 0) {
          throw new FormatException("'" + key + "': an entry of " + len + " bytes", at);
        }
        out.add(s);
      }
      return List.copyOf(out);
    }

    public List<Long> intList(String key, int maxN, long min, long max) {
      Mp v = value(key);
      int n = list(key, v, maxN);
      List<Long> out = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        int at = v.pos();
        if (v.peek() != Kind.INT) {
          throw wrong(key, v, "entries must be int");
        }
        long x = v.integer();
        if (x < min || x > max) {
          throw new FormatException("'" + key + "': " + x + " outside " + min + ".." + max, at);
        }
        out.add(x);
      }
      return List.copyOf(out);
    }

    public List<byte[]> binList(String key, int maxN, int width) {
      Mp v = value(key);
      int n = list(key, v, maxN);
      List<byte[]> out = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        int at = v.pos();
        if (v.peek() != Kind.BIN) {
          throw wrong(key, v, "entries must be bin");
        }
        byte[] x = v.bin();
        if (x.length != width) {
          throw new FormatException("'" + key + "': an entry of " + x.length + " bytes, expected "
              + width, at);
        }
        out.add(x);
      }
      return out;
    }
  }
}
