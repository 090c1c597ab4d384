package com.licsrv.client.internal;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;

/** Ed25519 through the JDK, raw 32-byte keys, kids and PEM. Stateless and thread-safe. */
public final class Ed25519 {
  private static final byte[] SPKI_PREFIX = hex("302a300506032b6570032100");

  private Ed25519() {}

  public static byte[] hex(String h) {
    byte[] out = new byte[h.length() / 2];
    for (int i = 0; i < out.length; i++) {
      out[i] = (byte) Integer.parseInt(h.substring(2 * i, 2 * i + 2), 16);
    }
    return out;
  }

  public static String toHex(byte[] b) {
    StringBuilder sb = new StringBuilder(2 * b.length);
    for (byte x : b) {
      sb.append(Character.forDigit((x >> 4) & 15, 16)).append(Character.forDigit(x & 15, 16));
    }
    return sb.toString();
  }

  public static byte[] sha256(byte[]... parts) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      for (byte[] p : parts) {
        md.update(p);
      }
      return md.digest();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 missing from the JDK", e);
    }
  }

  /** The key id: the first 8 bytes of SHA-256 over the raw public key. */
  public static byte[] kid(byte[] raw) {
    return Arrays.copyOf(sha256(raw), 8);
  }

  public static PublicKey publicKey(byte[] raw) throws GeneralSecurityException {
    if (raw.length != 32) {
      throw new java.security.InvalidKeyException("an Ed25519 public key is 32 bytes");
    }
    byte[] spki = Arrays.copyOf(SPKI_PREFIX, SPKI_PREFIX.length + 32);
    System.arraycopy(raw, 0, spki, SPKI_PREFIX.length, 32);
    return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
  }

  /** The raw key of a SubjectPublicKeyInfo PEM (BEGIN PUBLIC KEY) holding an Ed25519 key. */
  public static byte[] rawFromPem(String pem) {
    int a = pem.indexOf("-----BEGIN PUBLIC KEY-----");
    int z = pem.indexOf("-----END PUBLIC KEY-----");
    if (a < 0 || z < a) {
      throw new com.licsrv.client.FormatException("not a PEM public key (BEGIN PUBLIC KEY)", -1);
    }
    byte[] der;
    try {
      der = Base64.getMimeDecoder().decode(pem.substring(a + 26, z).trim());
    } catch (IllegalArgumentException e) {
      throw new com.licsrv.client.FormatException("PEM public key is not base64", a);
    }
    if (der.length != 44 || !Arrays.equals(Arrays.copyOf(der, 12), SPKI_PREFIX)) {
      throw new com.licsrv.client.FormatException("not an Ed25519 public key", a);
    }
    return Arrays.copyOfRange(der, 12, 44);
  }

  /** Checks sig over msg with the raw key: true when it holds. */
  public static boolean verifyRaw(byte[] raw, byte[] msg, byte[] sig) {
    try {
      Signature s = Signature.getInstance("Ed25519");
      s.initVerify(publicKey(raw));
      s.update(msg);
      return s.verify(sig);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }

  /** Checks sig over "LICSRV1 " + typ + "\n" + body with the raw key: true when it holds. */
  public static boolean verify(byte[] raw, String typ, byte[] body, byte[] sig) {
    try {
      Signature s = Signature.getInstance("Ed25519");
      s.initVerify(publicKey(raw));
      s.update(("LICSRV1 " + typ + "\n").getBytes(StandardCharsets.US_ASCII));
      s.update(body);
      return s.verify(sig);
    } catch (GeneralSecurityException e) {
      return false;
    }
  }
}
