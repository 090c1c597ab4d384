package com.licsrv.client.internal;

import com.licsrv.client.FormatException;
import com.licsrv.client.TrustStore;
import com.licsrv.client.VerifyException;
import com.licsrv.client.VerifyException.Reason;

/** An online-key certificate (docs/formats.md), checked root -> cert. Immutable. */
public final class Cert {
  public static final long MAX_SPAN = 825L * 86400;
  public final byte[] id;
  private final byte[] pubkey;
  public final String role;
  public final long issued;
  public final long notBefore;
  public final long expires;

  private Cert(Mp.Obj o) {
    id = o.binx("id", 16);
    pubkey = o.binx("pubkey", 32);
    role = o.str("role", 1, 16);
    issued = o.integer("issued", 0, Long.MAX_VALUE);
    notBefore = o.integer("not_before", 0, Long.MAX_VALUE);
    expires = o.integer("expires", 1, Long.MAX_VALUE);
    if (!role.matches("[a-z_]+")) {
      throw new FormatException("cert role holds characters other than a-z and '_'", -1);
    }
    if (expires <= notBefore) {
      throw new FormatException("cert expires before it is valid", -1);
    }
    if (expires - notBefore > MAX_SPAN) {
      throw new FormatException("cert is valid for more than 825 days", -1);
    }
  }

  public byte[] pubkey() {
    return pubkey.clone();
  }

  public static Cert open(byte[] env, TrustStore t) throws VerifyException {
    Envelope e = Envelope.open(env, "cert", "a cert");
    e.verify(t);
    return new Cert(e.bodyObj());
  }

  /** Usable to sign a verdict made at time t. */
  public void usable(long t) throws VerifyException {
    if (!role.equals("verdict")) {
      throw new VerifyException(Reason.TYPE, "cert role is '" + role + "', not verdict");
    }
    if (t < notBefore || t >= expires) {
      throw new VerifyException(Reason.EXPIRED, "time " + t + " is outside the cert's window "
          + Ids.time(notBefore) + ".." + Ids.time(expires));
    }
  }
}
