package com.licsrv.client;

import com.licsrv.client.internal.Ids;
import com.licsrv.client.internal.Mp;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * A license server's verdict (docs/formats.md, "Verdict") after its chain was checked.
 *
 * <p>{@link Verifier#verify} returns one for every trustworthy answer, denials included: look
 * at {@link #status()}. Immutable and thread-safe.
 *
 * <pre>{@code
 * Verdict v = verifier.verify(server);
 * if (v.status() == Status.VALID && v.features().contains("pdf")) { ... }
 * }</pre>
 */
public final class Verdict {
  private final byte[] nonce;
  private final long time;
  private final UUID license;
  private final UUID account;
  private final String node;
  private final Status status;
  private final String reason;
  private final List<String> features;
  private final List<String> domains;
  private final List<Long> ports;
  private final List<String> apps;
  private final long expires;
  private final long heartbeat;
  private final long grace;
  private final long seatsUsed;
  private final long seatsMax;
  private final boolean signed;

  private Verdict(Mp.Obj o, boolean signed) {
    nonce = o.bin("nonce", 16, 64);
    time = o.integer("time", 0, Long.MAX_VALUE);
    license = o.has("license") && !o.isNil("license") ? Ids.uuid(o.binx("license", 16)) : null;
    account = o.has("account") && !o.isNil("account") ? Ids.uuid(o.binx("account", 16)) : null;
    node = o.str("node", 1, 128);
    String s = o.str("status", 1, 32);
    status = Status.fromWire(s).orElseThrow(
        () -> new FormatException("unknown verdict status '" + s + "'", -1));
    reason = o.str("reason", 0, 200);
    features = o.strList("features", 256, 1, 128);
    domains = o.strList("domains", 256, 1, 253);
    ports = o.intList("ports", 256, 1, 65535);
    apps = o.strList("apps", 256, 1, 128);
    expires = o.integer("expires", 0, Long.MAX_VALUE);
    heartbeat = o.integer("heartbeat", 0, Integer.MAX_VALUE);
    grace = o.integer("grace", 0, Integer.MAX_VALUE);
    Mp.Obj so = o.obj("seats");
    seatsUsed = so.integer("used", 0, Integer.MAX_VALUE);
    seatsMax = so.integer("max", 0, Integer.MAX_VALUE);
    this.signed = signed;
  }

  /**
   * Parses a verdict body (no signature check: the caller checked it, or marks it unsigned).
   *
   * @param body the MessagePack body
   * @param signed whether its signature was checked
   * @return the verdict
   * @throws FormatException when malformed
   */
  static Verdict parseBody(byte[] body, boolean signed) {
    Mp.Obj o = Mp.parse(body);
    String t = o.str("typ", 1, 16);
    if (!t.equals("verdict")) {
      throw new com.licsrv.client.internal.Envelope.TypeMismatch("body typ is '" + t + "', not verdict");
    }
    return new Verdict(o, signed);
  }

  byte[] nonce() {
    return nonce.clone();
  }

  /** @return the server's clock when it signed (Unix seconds) */
  public long time() {
    return time;
  }

  /** @return the license it answers for (private mode) */
  public Optional<UUID> license() {
    return Optional.ofNullable(license);
  }

  /** @return the account it answers for (public mode) */
  public Optional<UUID> account() {
    return Optional.ofNullable(account);
  }

  /** @return the node (report-server instance) it answers */
  public String node() {
    return node;
  }

  /** @return the status */
  public Status status() {
    return status;
  }

  /** @return a short human reason */
  public String reason() {
    return reason;
  }

  /** @return the licensed functions */
  public List<String> features() {
    return features;
  }

  /** @return the licensed domains */
  public List<String> domains() {
    return domains;
  }

  /** @return the licensed ports */
  public List<Long> ports() {
    return ports;
  }

  /** @return the licensed applications */
  public List<String> apps() {
    return apps;
  }

  /** @return the license's end (Unix seconds), 0 = perpetual */
  public long expires() {
    return expires;
  }

  /** @return seconds until the next check is due */
  public long heartbeat() {
    return heartbeat;
  }

  /** @return seconds a valid verdict carries a report server without checks */
  public long grace() {
    return grace;
  }

  /** @return seats (private) or registrations (public) in use */
  public long seatsUsed() {
    return seatsUsed;
  }

  /** @return seats or registration capacity, 0 = unlimited */
  public long seatsMax() {
    return seatsMax;
  }

  /**
   * Whether the signature was checked. A denial sent without a chain (the server has no
   * license to name) cannot be checked; it is still honoured, since it only ever denies.
   *
   * @return true for a checked verdict; always true for {@link Status#VALID}
   */
  public boolean signed() {
    return signed;
  }
}
