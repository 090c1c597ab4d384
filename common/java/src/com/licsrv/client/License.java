package com.licsrv.client;

import com.licsrv.client.internal.Armor;
import com.licsrv.client.internal.Envelope;
import com.licsrv.client.internal.Ids;
import com.licsrv.client.internal.Mp;
import com.licsrv.client.internal.Terms;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * A license whose vendor signature has been checked (docs/formats.md, "License").
 *
 * <p>Built only by {@link #read}, which checks the envelope against a {@link TrustStore}
 * first. Unknown body keys are ignored; {@code supersedes} (a renewal) is read when present.
 * Immutable and thread-safe.
 *
 * <pre>{@code
 * License lic = License.read(Files.readAllBytes(Path.of("report.lic")), TrustStore.builtIn());
 * System.out.println(lic.id() + " for " + lic.customer() + ", features " + lic.features());
 * }</pre>
 */
public final class License {
  /** The licensing mode of a license. */
  public enum Mode {
    /** Bound to the report server's own machine, checked offline. */
    LOCAL,
    /** Bound to a license server's machine; report servers ask it. */
    PRIVATE,
    /** Hosted by the vendor (accounts). */
    PUBLIC
  }

  private final UUID id;
  private final Mode mode;
  private final long issued;
  private final long notBefore;
  private final long expires;
  private final String customer;
  private final String project;
  private final UUID projectId;
  private final String product;
  private final long major;
  private final List<String> features;
  private final List<String> domains;
  private final List<Long> ports;
  private final List<String> apps;
  private final long maxNodes;
  private final String machineCode;
  private final List<byte[]> macs;
  private final byte[] nodeKey;
  private final long heartbeat;
  private final long grace;
  private final UUID supersedes;

  private License(Mp.Obj o) {
    id = Ids.uuid(o.binx("id", 16));
    String m = o.str("mode", 1, 8);
    switch (m) {
      case "local": mode = Mode.LOCAL; break;
      case "private": mode = Mode.PRIVATE; break;
      case "public": mode = Mode.PUBLIC; break;
      default: throw new FormatException("mode '" + m + "' is not local, private or public", -1);
    }
    issued = o.integer("issued", 0, Long.MAX_VALUE);
    notBefore = o.integer("not_before", 0, Long.MAX_VALUE);
    expires = o.integer("expires", 0, Long.MAX_VALUE);
    customer = Terms.name(o.str("customer", 1, 128), "customer");
    project = Terms.name(o.str("project", 1, 128), "project");
    projectId = Ids.uuid(o.binx("project_id", 16));
    product = Terms.name(o.str("product", 1, 128), "product");
    major = o.integer("major", 0, Integer.MAX_VALUE);
    features = Terms.names(o.strList("features", 256, 1, 128), "feature");
    domains = o.strList("domains", 256, 1, 253);
    for (String d : domains) {
      Terms.domainCheck(d, true);
    }
    ports = o.intList("ports", 256, 1, 65535);
    apps = Terms.names(o.strList("apps", 256, 1, 128), "app");
    maxNodes = o.integer("max_nodes", 0, Integer.MAX_VALUE);
    heartbeat = o.integer("heartbeat", 1, 30L * 86400);
    grace = o.integer("grace", 0, 365L * 86400);
    o.binx("rif", 32);
    if (expires != 0 && expires < notBefore) {
      throw new FormatException("expires before not_before", -1);
    }
    if (grace < heartbeat) {
      throw new FormatException("grace (" + grace + " s) is shorter than heartbeat (" + heartbeat
          + " s)", -1);
    }
    if (o.has("machine")) {
      Mp.Obj mo = o.obj("machine");
      machineCode = mo.str("code", 19, 19);
      if (!Terms.machineCodeValid(machineCode)) {
        throw new FormatException("machine code is malformed", -1);
      }
      macs = List.copyOf(mo.binList("macs", 256, 16));
    } else {
      machineCode = null;
      macs = List.of();
    }
    nodeKey = o.has("node_key") ? o.binx("node_key", 32) : null;
    supersedes = o.has("supersedes") ? Ids.uuid(o.binx("supersedes", 16)) : null;
    if (mode != Mode.PUBLIC && (machineCode == null || macs.isEmpty())) {
      throw new FormatException("a " + m + " license must name a machine with at least one MAC", -1);
    }
    if (mode == Mode.PRIVATE && nodeKey == null) {
      throw new FormatException("a private license must carry node_key", -1);
    }
  }

  /**
   * Reads a license file's bytes (armored or raw MessagePack) and checks its signature.
   *
   * @param file the file's bytes
   * @param trust the vendor root keys
   * @return the checked license
   * @throws VerifyException when it is not signed by a trusted key, not a license, or malformed
   */
  public static License read(byte[] file, TrustStore trust) throws VerifyException {
    try {
      return open(Armor.unarmorAny(file), trust);
    } catch (FormatException e) {
      throw Envelope.asVerify(e);
    }
  }

  /**
   * Opens a raw license envelope (the chain entry of a verify answer).
   *
   * @param envelope the MessagePack envelope
   * @param trust the vendor root keys
   * @return the checked license
   * @throws VerifyException when it does not check
   * @throws FormatException when the bytes are malformed
   */
  static License open(byte[] envelope, TrustStore trust) throws VerifyException {
    Envelope e = Envelope.open(envelope, "license", "a license");
    e.verify(trust);
    return new License(e.bodyObj());
  }

  /**
   * Parses a license body without any signature check (tests and tools that have checked it).
   *
   * @param body the MessagePack body
   * @return the license
   * @throws FormatException when malformed
   */
  public static License parseBody(byte[] body) {
    Mp.Obj o = Mp.parse(body);
    String t = o.str("typ", 1, 16);
    if (!t.equals("license")) {
      throw new Envelope.TypeMismatch("body typ is '" + t + "', not license");
    }
    return new License(o);
  }

  /** @return the license id */
  public UUID id() {
    return id;
  }

  /** @return the licensing mode */
  public Mode mode() {
    return mode;
  }

  /** @return when it was signed (Unix seconds) */
  public long issued() {
    return issued;
  }

  /** @return the start of its window (Unix seconds) */
  public long notBefore() {
    return notBefore;
  }

  /** @return the end of its window (Unix seconds), 0 = perpetual */
  public long expires() {
    return expires;
  }

  /** @return the customer's name */
  public String customer() {
    return customer;
  }

  /** @return the project's name */
  public String project() {
    return project;
  }

  /** @return the project id */
  public UUID projectId() {
    return projectId;
  }

  /** @return the product name */
  public String product() {
    return product;
  }

  /** @return the licensed major version, 0 = any */
  public long major() {
    return major;
  }

  /** @return the licensed functions */
  public List<String> features() {
    return features;
  }

  /** @return the access domains (empty = any) */
  public List<String> domains() {
    return domains;
  }

  /** @return the ports (empty = any) */
  public List<Long> ports() {
    return ports;
  }

  /** @return the application names (empty = any) */
  public List<String> apps() {
    return apps;
  }

  /** @return the maximum report-server nodes, 0 = unlimited */
  public long maxNodes() {
    return maxNodes;
  }

  /** @return the bound machine's code (local and private) */
  public Optional<String> machineCode() {
    return Optional.ofNullable(machineCode);
  }

  /** @return the bound machine's MAC hashes (copies) */
  public List<byte[]> macHashes() {
    List<byte[]> out = new ArrayList<>();
    for (byte[] m : macs) {
      out.add(m.clone());
    }
    return out;
  }

  /** @return the node key that signs verdicts (private mode), a copy */
  public Optional<byte[]> nodeKey() {
    return Optional.ofNullable(nodeKey == null ? null : nodeKey.clone());
  }

  /** @return the check interval in seconds */
  public long heartbeat() {
    return heartbeat;
  }

  /** @return how long a report server stays licensed without a valid check, in seconds */
  public long grace() {
    return grace;
  }

  /** @return the license this one renews or upgrades */
  public Optional<UUID> supersedes() {
    return Optional.ofNullable(supersedes);
  }
}
