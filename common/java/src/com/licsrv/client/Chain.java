package com.licsrv.client;

import com.licsrv.client.VerifyException.Reason;
import com.licsrv.client.internal.Cert;
import com.licsrv.client.internal.Ed25519;
import com.licsrv.client.internal.Envelope;
import java.util.Arrays;

/** The signature chains of a verify answer (docs/formats.md). Stateless. */
final class Chain {
  private Chain() {}

  /** root -> cert (role verdict, the verdict's time in its window, its key) -> verdict. */
  static Verdict publicVerdict(byte[] certEnv, byte[] verdictEnv, TrustStore t)
      throws VerifyException {
    try {
      Cert c = Cert.open(certEnv, t);
      if (!c.role.equals("verdict")) {
        throw new VerifyException(Reason.TYPE, "cert role is '" + c.role + "', not verdict");
      }
      Envelope ve = Envelope.open(verdictEnv, "verdict", "a verdict");
      if (!Arrays.equals(Ed25519.kid(c.pubkey()), ve.kid())) {
        throw new VerifyException(Reason.MISMATCHED,
            "the verdict is signed by another key than the cert's");
      }
      ve.verifyWith(c.pubkey());
      Verdict v = Verdict.parseBody(ve.body(), true);
      c.usable(v.time());
      return v;
    } catch (FormatException e) {
      throw Envelope.asVerify(e);
    }
  }

  /** license -> verdict: signed by the node key the (checked) license certifies. */
  static Verdict privateVerdict(License l, byte[] verdictEnv) throws VerifyException {
    try {
      Envelope ve = Envelope.open(verdictEnv, "verdict", "a verdict");
      ve.verifyWith(l.nodeKey().orElseThrow(() -> new VerifyException(Reason.FORMAT,
          "the chain's license is not a private-mode license")));
      return Verdict.parseBody(ve.body(), true);
    } catch (FormatException e) {
      throw Envelope.asVerify(e);
    }
  }

  /** The status of a verdict before its signature is checked (to pick the checks). */
  static boolean peekUnknown(byte[] verdictEnv) {
    try {
      Envelope ve = Envelope.decode(verdictEnv);
      return Verdict.parseBody(ve.body(), false).status() == Status.UNKNOWN_LICENSE;
    } catch (FormatException e) {
      return false;
    }
  }
}
