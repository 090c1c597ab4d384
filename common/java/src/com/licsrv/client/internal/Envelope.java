package com.licsrv.client.internal;

import com.licsrv.client.FormatException;
import com.licsrv.client.TrustStore;
import com.licsrv.client.VerifyException;
import com.licsrv.client.VerifyException.Reason;
import java.util.Arrays;
import java.util.Set;

/**
 * A signed envelope {typ, kid, body, sig} (docs/formats.md), decoded strictly like liblic's
 * envelope.c. Immutable.
 */
public final class Envelope {
  public static final int MAX_BODY = 64 * 1024;
  public static final int MAX_ENVELOPE = MAX_BODY + 128;
  private static final Set<String> TYPES =
      Set.of("license", "rif", "verdict", "cert", "receipt", "account", "revocations");

  public final String typ;
  private final byte[] kid;
  private final byte[] body;
  private final byte[] sig;

  private Envelope(String typ, byte[] kid, byte[] body, byte[] sig) {
    this.typ = typ;
    this.kid = kid;
    this.body = body;
    this.sig = sig;
  }

  public byte[] kid() {
    return kid.clone();
  }

  public byte[] body() {
    return body.clone();
  }

  /** Decodes (no signature check). */
  public static Envelope decode(byte[] buf) {
    if (buf.length > MAX_ENVELOPE) {
      throw new FormatException("envelope larger than " + MAX_ENVELOPE + " bytes", 0);
    }
    Mp.Obj o = Mp.parse(buf);
    if (o.size() != 4) {
      throw new FormatException("envelope has " + o.size() + " keys, expected typ, kid, body, sig", 0);
    }
    for (String k : o.keys()) {
      if (!Set.of("typ", "kid", "body", "sig").contains(k)) {
        throw new FormatException("unexpected envelope key '" + Mp.trunc(k) + "'", 0);
      }
    }
    String typ = o.str("typ", 1, 16);
    if (!TYPES.contains(typ)) {
      throw new TypeMismatch("unknown envelope typ '" + typ + "'");
    }
    return new Envelope(typ, o.binx("kid", 8), o.bin("body", 1, MAX_BODY), o.binx("sig", 64));
  }

  /** A wrong object type: liblic's LIC_TYPE (mapped to {@link Reason#TYPE}). */
  public static final class TypeMismatch extends FormatException {
    private static final long serialVersionUID = 1L;

    public TypeMismatch(String m) {
      super(m, -1);
    }
  }

  /** Decodes and checks the type: "this is a X, not a Y". */
  public static Envelope open(byte[] buf, String typ, String noun) {
    Envelope e = decode(buf);
    if (!e.typ.equals(typ)) {
      throw new TypeMismatch("this is a " + e.typ + ", not " + noun);
    }
    return e;
  }

  public void verifyWith(byte[] pub) throws VerifyException {
    if (!Arrays.equals(Ed25519.kid(pub), kid)) {
      throw new VerifyException(Reason.UNTRUSTED, "signed by another key than the expected one");
    }
    if (!Ed25519.verify(pub, typ, body, sig)) {
      throw new VerifyException(Reason.SIGNATURE, "Ed25519 signature check failed");
    }
  }

  public void verify(TrustStore t) throws VerifyException {
    byte[] pub = t.find(kid).orElseThrow(() -> new VerifyException(Reason.UNTRUSTED,
        "kid " + Ed25519.toHex(kid) + " is not in the trust store (" + t.size() + " key"
            + (t.size() == 1 ? "" : "s") + (t.size() == 0 ? "; pass --trust VENDOR.pub.pem" : "")
            + ")"));
    verifyWith(pub);
  }

  /** The body map, its own typ equal to the envelope's. */
  public Mp.Obj bodyObj() {
    Mp.Obj o = Mp.parse(body);
    String t = o.str("typ", 1, 16);
    if (!t.equals(typ)) {
      throw new TypeMismatch("body typ '" + t + "' differs from envelope typ '" + typ + "'");
    }
    return o;
  }

  /** Runs a check, turning malformed input into a {@link VerifyException}. */
  public static VerifyException asVerify(FormatException e) {
    return new VerifyException(e instanceof TypeMismatch ? Reason.TYPE : Reason.FORMAT,
        e.getMessage(), e);
  }
}
