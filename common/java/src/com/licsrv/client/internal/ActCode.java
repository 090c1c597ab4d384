package com.licsrv.client.internal;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Designer activation codes (docs/activation.md): grouped Crockford base32 with a check
 * symbol per group, parsed and verified like liblic's actcode.c. Immutable.
 */
public final class ActCode {
  public static final int VERSION = 1;
  static final int DATA_SYMS = 117;
  static final int GROUP = 5;
  static final int GROUPS = 24;
  static final int SYMS = DATA_SYMS + GROUPS;
  static final int MAX_INPUT = 400;
  static final long EPOCH_DAYS = 18262;
  private static final String SYMBOLS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";

  /** A failure of parse or verify, with liblic's error class. */
  public static final class Failure extends Exception {
    private static final long serialVersionUID = 1L;
    public final String kind; // FORMAT, TYPO, NOTGENUINE, PRODUCT, EXPIRED

    Failure(String kind, String msg) {
      super(msg);
      this.kind = kind;
    }
  }

  public final int version;
  public final int product;
  public final long serial;
  public final int expiryDay;
  public final int edition;
  private final byte[] payload;
  private final byte[] sig;

  private ActCode(byte[] bin) {
    version = bin[0] & 0xff;
    product = bin[1] & 0xff;
    serial = ((bin[2] & 0xffL) << 24) | ((bin[3] & 0xff) << 16) | ((bin[4] & 0xff) << 8) | (bin[5] & 0xff);
    expiryDay = ((bin[6] & 0xff) << 8) | (bin[7] & 0xff);
    edition = bin[8] & 0xff;
    payload = Arrays.copyOf(bin, 9);
    sig = Arrays.copyOfRange(bin, 9, 73);
  }

  /** Unix time the code stops working; 0 = never. */
  public long expires() {
    return expiryDay == 0 ? 0 : (EPOCH_DAYS + expiryDay) * 86400;
  }

  static int value(char ch) {
    char c = Character.toUpperCase(ch);
    if (c == 'O') {
      return 0;
    }
    if (c == 'I' || c == 'L') {
      return 1;
    }
    if (c == 'U') {
      return -1;
    }
    int i = SYMBOLS.indexOf(c);
    return i >= 0 && i < 32 ? i : -1;
  }

  static int checkValue(char ch) {
    int v = value(ch);
    if (v >= 0) {
      return v;
    }
    int i = SYMBOLS.indexOf(Character.toUpperCase(ch));
    return i >= 32 ? i : -1;
  }

  static int check(int[] vals, int from, int n) {
    int m = 0;
    for (int i = 0; i < n; i++) {
      m = (m * 32 + vals[from + i]) % 37;
    }
    return m;
  }

  /** The canonical text of the code. */
  public String text() {
    byte[] bin = new byte[73];
    System.arraycopy(payload, 0, bin, 0, 9);
    System.arraycopy(sig, 0, bin, 9, 64);
    int[] data = new int[DATA_SYMS];
    int acc = 0;
    int bits = 0;
    int o = 0;
    for (byte b : bin) {
      acc = (acc << 8) | (b & 0xff);
      bits += 8;
      while (bits >= 5) {
        data[o++] = (acc >> (bits - 5)) & 31;
        bits -= 5;
      }
    }
    if (bits > 0) {
      data[o] = (acc << (5 - bits)) & 31;
    }
    StringBuilder sb = new StringBuilder();
    for (int g = 0; g < GROUPS; g++) {
      int first = g * GROUP;
      int n = Math.min(GROUP, DATA_SYMS - first);
      if (g > 0) {
        sb.append('-');
      }
      for (int i = 0; i < n; i++) {
        sb.append(SYMBOLS.charAt(data[first + i]));
      }
      sb.append(SYMBOLS.charAt(check(data, first, n)));
    }
    return sb.toString();
  }

  public static ActCode parse(String text) throws Failure {
    if (text.length() > MAX_INPUT) {
      throw new Failure("FORMAT", "too long for an activation code (over " + MAX_INPUT + " characters)");
    }
    int[] data = new int[DATA_SYMS];
    int[] chk = new int[GROUPS];
    boolean[] typo = new boolean[GROUPS];
    int k = 0;
    int nd = 0;
    for (int pos = 0; pos < text.length(); pos++) {
      char ch = text.charAt(pos);
      if (ch == '-' || ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
        continue;
      }
      if (k == SYMS) {
        throw new Failure("FORMAT", "too long: extra symbols from character " + (pos + 1)
            + " on (a code has " + GROUPS + " groups, " + SYMS + " symbols)");
      }
      int g = k / (GROUP + 1);
      int i = k % (GROUP + 1);
      int n = g == GROUPS - 1 ? DATA_SYMS - g * GROUP : GROUP;
      boolean isCheck = i == n;
      int v = isCheck ? checkValue(ch) : value(ch);
      if (v < 0 && !isCheck && checkValue(ch) >= 0) {
        typo[g] = true;
        v = 0;
      } else if (v < 0) {
        throw new Failure("FORMAT", "character " + (pos + 1) + " ('"
            + (ch > 0x20 && ch < 0x7f ? ch : '?') + "', in group " + (g + 1) + ") is not a code symbol");
      }
      if (isCheck) {
        chk[g] = v;
      } else {
        data[nd++] = v;
      }
      k++;
    }
    if (k != SYMS) {
      throw new Failure("FORMAT", "too short: " + k + " of the " + SYMS + " symbols of a code ("
          + GROUPS + " groups)");
    }
    List<Integer> bad = new ArrayList<>();
    for (int g = 0; g < GROUPS; g++) {
      int first = g * GROUP;
      int n = g == GROUPS - 1 ? DATA_SYMS - first : GROUP;
      if (check(data, first, n) != chk[g]) {
        typo[g] = true;
      }
      if (typo[g]) {
        bad.add(g + 1);
      }
    }
    if (bad.size() == 1) {
      throw new Failure("TYPO", "group " + bad.get(0) + " has a typo");
    }
    if (bad.size() > 1) {
      StringBuilder sb = new StringBuilder();
      for (int b : bad) {
        sb.append(sb.length() > 0 ? ", " : "").append(b);
      }
      throw new Failure("TYPO", "groups " + sb + " have typos");
    }
    byte[] bin = new byte[73];
    int acc = 0;
    int bits = 0;
    int o = 0;
    for (int i = 0; i < DATA_SYMS; i++) {
      acc = (acc << 5) | data[i];
      bits += 5;
      if (bits >= 8) {
        bin[o++] = (byte) (acc >> (bits - 8));
        bits -= 8;
      }
      acc &= 0xfff;
    }
    if (bits > 0 && (acc & ((1 << bits) - 1)) != 0) {
      throw new Failure("FORMAT", "non-zero padding bits in base32");
    }
    return new ActCode(bin);
  }

  /** Genuine (some trusted key signed it), this version, this product (< 0: any), not expired. */
  public void verify(List<byte[]> rootKeys, int wantProduct, long now) throws Failure {
    byte[] msg = new byte[13 + 9];
    System.arraycopy("LICSRV1 code\n".getBytes(StandardCharsets.US_ASCII), 0, msg, 0, 13);
    System.arraycopy(payload, 0, msg, 13, 9);
    boolean genuine = false;
    for (byte[] k : rootKeys) {
      genuine |= Ed25519.verifyRaw(k, msg, sig);
    }
    if (!genuine && rootKeys.isEmpty()) {
      throw new Failure("NOTGENUINE", "the trust store holds no keys");
    }
    if (!genuine) {
      throw new Failure("NOTGENUINE", "no trusted key signed this code (" + rootKeys.size()
          + " tried); its check symbols hold, so it is not a typo");
    }
    if (version != VERSION) {
      throw new Failure("FORMAT", "code version " + version + " is not supported (this build reads "
          + VERSION + ")");
    }
    if (wantProduct >= 0 && product != wantProduct) {
      throw new Failure("PRODUCT", "the code is for product " + product + ", not " + wantProduct);
    }
    long exp = expires();
    if (exp != 0 && now >= exp) {
      throw new Failure("EXPIRED", "the code expired on " + Ids.date(exp));
    }
  }
}
