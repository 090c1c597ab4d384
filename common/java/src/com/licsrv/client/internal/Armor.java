package com.licsrv.client.internal;

import com.licsrv.client.FormatException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Locale;

/**
 * Text armor (docs/formats.md): a tolerant reader like liblic's armor.c. Text outside the
 * armor is ignored; CRLF, mail quoting ("> "), stray whitespace and a missing final newline
 * are accepted. Stateless and thread-safe.
 */
public final class Armor {
  public static final int MAX_FILE = 1 << 20;
  private static final String BEGIN = "-----BEGIN LICSRV ";
  private static final String END = "-----END LICSRV ";

  private Armor() {}

  /** The armored envelope's bytes, or raw MessagePack (a fixmap first byte) as is. */
  public static byte[] unarmorAny(byte[] buf) {
    if (buf.length > MAX_FILE) {
      throw new FormatException("file larger than " + MAX_FILE + " bytes", -1);
    }
    if (buf.length > 0 && (buf[0] & 0xff) >= 0x80 && (buf[0] & 0xff) <= 0x8f) {
      return buf.clone();
    }
    return decode(buf, null);
  }

  /** The armored bytes; typOut[0] gets the lower-cased label when typOut is not null. */
  public static byte[] decode(byte[] text, String[] typOut) {
    String s = new String(text, StandardCharsets.ISO_8859_1);
    String typ = null;
    StringBuilder b64 = new StringBuilder();
    int p = 0;
    int off = 0;
    while (p < s.length()) {
      int nl = s.indexOf('\n', p);
      int e = nl < 0 ? s.length() : nl;
      off = p;
      String line = trim(s.substring(p, e));
      p = nl < 0 ? s.length() : nl + 1;
      if (typ == null) {
        if (line.startsWith(BEGIN)) {
          typ = label(line, BEGIN, off);
        }
        continue;
      }
      if (line.startsWith(END)) {
        String et = label(line, END, off);
        if (!et.equals(typ)) {
          throw new FormatException("armor BEGIN " + typ + " ends with END " + et, off);
        }
        if (b64.length() == 0) {
          throw new FormatException("empty armor", off);
        }
        if (typOut != null) {
          typOut[0] = typ;
        }
        try {
          return Base64.getMimeDecoder().decode(strictB64(b64.toString(), off));
        } catch (IllegalArgumentException x) {
          throw new FormatException("armor is not base64", off);
        }
      }
      for (int i = 0; i < line.length(); i++) {
        char c = line.charAt(i);
        if (!Character.isWhitespace(c)) {
          b64.append(c);
        }
      }
    }
    throw new FormatException(typ != null ? "armor has no END line (truncated?)"
        : "no LICSRV armor and not a MessagePack envelope", off);
  }

  private static String strictB64(String t, int off) {
    for (int i = 0; i < t.length(); i++) {
      char c = t.charAt(i);
      boolean ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
          || c == '+' || c == '/' || c == '=' || c == '-' || c == '_';
      if (!ok) {
        throw new FormatException("armor holds a non-base64 character", off);
      }
    }
    // Readers accept base64url too (docs/formats.md): normalise to the standard alphabet.
    return t.replace('-', '+').replace('_', '/');
  }

  private static String trim(String line) {
    int a = 0;
    int z = line.length();
    while (a < z && (line.charAt(a) == ' ' || line.charAt(a) == '\t' || line.charAt(a) == '>')) {
      a++;
    }
    while (z > a && Character.isWhitespace(line.charAt(z - 1))) {
      z--;
    }
    return line.substring(a, z);
  }

  private static String label(String line, String pre, int off) {
    if (line.length() < pre.length() + 6 || !line.endsWith("-----")) {
      throw new FormatException("malformed armor line", off);
    }
    String l = line.substring(pre.length(), line.length() - 5);
    if (l.length() > 16) {
      throw new FormatException("armor label too long", off);
    }
    for (int i = 0; i < l.length(); i++) {
      char c = l.charAt(i);
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
        throw new FormatException("malformed armor label", off);
      }
    }
    return l.toLowerCase(Locale.ROOT);
  }
}
