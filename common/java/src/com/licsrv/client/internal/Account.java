package com.licsrv.client.internal;

import com.licsrv.client.FormatException;
import com.licsrv.client.TrustStore;
import com.licsrv.client.VerifyException;
import java.util.List;

/** A public-mode account (docs/formats.md), checked against the trust store. Immutable. */
public final class Account {
  public final byte[] id;
  public final String customer;
  public final long capacity;
  public final List<String> features;
  public final List<String> domains;
  public final List<Long> ports;
  public final List<String> apps;
  public final long major;
  public final long notBefore;
  public final long expires;
  public final long heartbeat;
  public final long grace;
  private final byte[] tokenHash;

  private Account(Mp.Obj o) {
    id = o.binx("id", 16);
    customer = o.str("customer", 1, 128);
    capacity = o.integer("capacity", 1, 1000000);
    features = Terms.names(o.strList("features", 256, 1, 128), "feature");
    domains = o.strList("domains", 256, 1, 253);
    for (String d : domains) {
      Terms.domainCheck(d, true);
    }
    ports = o.intList("ports", 256, 1, 65535);
    apps = Terms.names(o.strList("apps", 256, 1, 128), "app");
    major = o.integer("major", 0, Integer.MAX_VALUE);
    notBefore = o.integer("not_before", 0, Long.MAX_VALUE);
    expires = o.integer("expires", 0, Long.MAX_VALUE);
    heartbeat = o.integer("heartbeat", 1, 30L * 86400);
    grace = o.integer("grace", 0, 365L * 86400);
    tokenHash = o.binx("token_hash", 32);
    if (expires != 0 && expires < notBefore) {
      throw new FormatException("expires before not_before", -1);
    }
  }

  public byte[] tokenHash() {
    return tokenHash.clone();
  }

  public static Account open(byte[] env, TrustStore t) throws VerifyException {
    Envelope e = Envelope.open(env, "account", "an account");
    e.verify(t);
    return new Account(e.bodyObj());
  }
}
