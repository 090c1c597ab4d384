package com.licsrv.client;

import com.licsrv.client.internal.ActCode;
import com.licsrv.client.internal.Armor;
import com.licsrv.client.internal.Envelope;
import com.licsrv.client.internal.Machine;
import com.licsrv.client.internal.Mp;
import com.licsrv.client.internal.Terms;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The designer's check at start: does the activation in the state directory hold on this
 * machine now (docs/activation.md)? The activation file is not signed; what counts comes from
 * the activation code, re-verified against the trust store every time, and the machine code
 * plus at least one recorded network adapter must be this machine's ({@code LIC_SYSROOT}
 * points at a simulated machine). Immutable and thread-safe.
 *
 * <pre>{@code
 * Activation.Result r = Activation.check(Path.of(System.getProperty("user.home"),
 *     ".local/state/licctl"), TrustStore.builtIn(), 7, Clock.systemUTC());
 * if (r.outcome() != Activation.Outcome.VALID) showActivationDialog(r.reason());
 * }</pre>
 */
public final class Activation {
  private static final int MAX_FILE = 32 * 1024;

  private Activation() {}

  /** What a check found; wire names as {@code licctl activation --json} prints them. */
  public enum Outcome {
    /** The activation holds on this machine. */
    VALID("valid"),
    /** No activation file: enter an activation code. */
    NOT_ACTIVATED("not_activated"),
    /** The code has expired. */
    EXPIRED("expired"),
    /** The code is for another product. */
    OTHER_PRODUCT("other_product"),
    /** No trusted key signed the code. */
    NOT_GENUINE("not_genuine"),
    /** Activated on another machine. */
    OTHER_MACHINE("other_machine"),
    /** This machine's identity cannot be read. */
    MACHINE_UNREADABLE("machine_unreadable"),
    /** The file or its code is malformed (or was edited). */
    MALFORMED("malformed"),
    /** The vendor revoked the code: (product, serial) is on the newest revocation list. */
    REVOKED("revoked"),
    /** Any other failure (I/O). */
    ERROR("error");

    private final String wire;

    Outcome(String wire) {
      this.wire = wire;
    }

    /** @return the name {@code licctl activation --json} prints */
    public String wireName() {
      return wire;
    }
  }

  /** The outcome, a one-line reason and what the file says (when it could be read). */
  public static final class Result {
    private final Outcome outcome;
    private final String reason;
    private final Info info;

    Result(Outcome outcome, String reason, Info info) {
      this.outcome = outcome;
      this.reason = reason;
      this.info = info;
    }

    /** @return the outcome */
    public Outcome outcome() {
      return outcome;
    }

    /** @return a one-line reason ("" when valid) */
    public String reason() {
      return reason;
    }

    /** @return the activation's fields, when the file could be read */
    public Optional<Info> info() {
      return Optional.ofNullable(info);
    }
  }

  /** The activation's fields: those that matter come from the (verified) code. */
  public static final class Info {
    /** The code's canonical text. */
    public final String code;
    /** Product id, 0..255. */
    public final int product;
    /** Serial number. */
    public final long serial;
    /** Edition flags. */
    public final int edition;
    /** When the code stops working (Unix seconds), 0 = never. */
    public final long expires;
    /** When it was activated (Unix seconds, from the file). */
    public final long activated;
    /** The machine code recorded at activation. */
    public final String machineCode;
    /** Whether a license server's claim receipt is kept in the file. */
    public final boolean claimedOnline;

    Info(String code, int product, long serial, int edition, long expires, long activated,
        String machineCode, boolean claimed) {
      this.code = code;
      this.product = product;
      this.serial = serial;
      this.edition = edition;
      this.expires = expires;
      this.activated = activated;
      this.machineCode = machineCode;
      this.claimedOnline = claimed;
    }
  }

  /**
   * Checks the activation file {@code stateDir/activation}.
   *
   * @param stateDir the designer's state directory
   * @param trust the vendor root keys
   * @param product this designer's product id, or -1 for any
   * @param clock the clock the code's expiry is compared with
   * @return the result (never throws for a bad, missing or foreign activation)
   * @throws IllegalArgumentException when product is above 255
   */
  public static Result check(Path stateDir, TrustStore trust, int product, Clock clock) {
    Objects.requireNonNull(stateDir, "stateDir");
    Objects.requireNonNull(trust, "trust");
    if (product > 255) {
      throw new IllegalArgumentException("a product id is 0..255");
    }
    Path path = stateDir.resolve("activation");
    byte[] buf;
    try {
      if (Files.size(path) > MAX_FILE) {
        return new Result(Outcome.MALFORMED, "value exceeds a limit: " + path + ": over "
            + MAX_FILE + " bytes", null);
      }
      buf = Files.readAllBytes(path);
    } catch (NoSuchFileException e) {
      return new Result(Outcome.NOT_ACTIVATED, "not found: not activated (no " + path
          + "): enter an activation code", null);
    } catch (IOException e) {
      return new Result(Outcome.ERROR, "input/output error: " + path + ": " + e.getMessage(), null);
    }
    ActCode c;
    Mp.Obj o;
    Mp.Obj mo;
    String mcode;
    boolean claimed;
    Info fileInfo;
    try {
      o = Mp.parse(Armor.unarmorAny(buf));
      String typ = o.str("typ", 1, 16);
      if (!typ.equals("activation")) {
        return new Result(Outcome.MALFORMED, "unexpected object type: typ is '" + typ
            + "', not 'activation'", null);
      }
      String text = o.str("code", 1, 164);
      o.integer("product", 0, 255);
      o.integer("serial", 0, 0xffffffffL);
      o.integer("edition", 0, 255);
      o.integer("expires", 0, Long.MAX_VALUE);
      o.integer("activated", 0, Long.MAX_VALUE);
      mo = o.obj("machine");
      mcode = mo.str("code", 19, 19);
      mo.binList("macs", 64, 16);
      if (!Terms.machineCodeValid(mcode)) {
        return new Result(Outcome.MALFORMED, "malformed data: machine code '" + mcode
            + "' is malformed", null);
      }
      claimed = o.has("receipt");
      if (claimed) {
        Envelope r = Envelope.decode(o.bin("receipt", 1, Envelope.MAX_ENVELOPE));
        if (!r.typ.equals("receipt")) {
          return new Result(Outcome.MALFORMED, "unexpected object type: the activation's receipt is a "
              + r.typ, null);
        }
      }
      fileInfo = new Info(text, (int) o.integer("product", 0, 255), o.integer("serial", 0, 0xffffffffL),
          (int) o.integer("edition", 0, 255), o.integer("expires", 0, Long.MAX_VALUE),
          o.integer("activated", 0, Long.MAX_VALUE), mcode, claimed);
    } catch (FormatException e) {
      return new Result(Outcome.MALFORMED, "malformed data: " + e.getMessage(), null);
    }
    try {
      c = ActCode.parse(fileInfo.code);
    } catch (ActCode.Failure f) {
      return new Result(Outcome.MALFORMED, kindText(f.kind) + ": " + f.getMessage(), fileInfo);
    }
    if (c.product != fileInfo.product || c.serial != fileInfo.serial || c.edition != fileInfo.edition
        || c.expires() != fileInfo.expires) {
      return new Result(Outcome.MALFORMED, "malformed data: " + path
          + ": fields disagree with its code (edited by hand?)", fileInfo);
    }
    // What counts comes from the (signed) code.
    Info info = new Info(c.text(), c.product, c.serial, c.edition, c.expires(), fileInfo.activated,
        mcode, claimed);
    try {
      c.verify(trust.rawKeys(), product, clock.instant().getEpochSecond());
    } catch (ActCode.Failure f) {
      Outcome out = f.kind.equals("NOTGENUINE") ? Outcome.NOT_GENUINE
          : f.kind.equals("PRODUCT") ? Outcome.OTHER_PRODUCT
          : f.kind.equals("EXPIRED") ? Outcome.EXPIRED : Outcome.MALFORMED;
      return new Result(out, kindText(f.kind) + ": " + f.getMessage(), info);
    }
    Machine m;
    try {
      m = Machine.read();
    } catch (IOException e) {
      return new Result(Outcome.MACHINE_UNREADABLE, "cannot read the machine identity: "
          + e.getMessage(), info);
    }
    List<byte[]> macs = mo.binList("macs", 64, 16);
    if (!m.matches(mcode, macs)) {
      return new Result(Outcome.OTHER_MACHINE, !m.code.equals(mcode)
          ? "denied: activated on another machine (machine code " + mcode + ", this is " + m.code + ")"
          : "denied: none of the network adapters recorded at activation is present on this machine",
          info);
    }
    return new Result(Outcome.VALID, "", info);
  }

  /**
   * {@link #check(Path, TrustStore, int, Clock)}, then the newest vendor revocation list: the
   * given file (shipped beside the designer; kept in {@code stateDir} when newer) or the one kept
   * there from before ({@link Revocations#remember}). A genuine code whose (product, serial) is
   * on it reads {@link Outcome#REVOKED}, whatever else holds; {@code licctl activation
   * --revocations F} with the same files. What a designer must do: check with this at start.
   *
   * @param stateDir the designer's state directory
   * @param trust the vendor root keys (codes and lists)
   * @param product this designer's product id, or -1 for any
   * @param clock the clock the code's expiry is compared with
   * @param revocations a revocation list file shipped beside the designer, if any
   * @return the result
   * @throws VerifyException when the given list does not verify (forged, damaged, not a list), a
   *     different list is kept under its seq, or the kept one is damaged
   * @throws IOException when the list file or the state directory cannot be read or written
   */
  public static Result check(Path stateDir, TrustStore trust, int product, Clock clock,
      Optional<Path> revocations) throws VerifyException, IOException {
    Objects.requireNonNull(revocations, "revocations");
    Optional<byte[]> file = Optional.empty();
    if (revocations.isPresent()) {
      file = Optional.of(Files.readAllBytes(revocations.get()));
    }
    Optional<Revocations> rv = Revocations.remember(stateDir, file, trust);
    Result r = check(stateDir, trust, product, clock);
    if (rv.isPresent() && r.info().isPresent() && r.outcome() != Outcome.NOT_GENUINE
        && rv.get().hasActivation(r.info().get().product, r.info().get().serial)) {
      Info i = r.info().get();
      return new Result(Outcome.REVOKED, "product " + i.product + ", serial " + i.serial
          + " is on the vendor's revocation list (seq " + rv.get().seq() + ")", i);
    }
    return r;
  }

  private static String kindText(String kind) {
    switch (kind) {
      case "TYPO": return "typo in code";
      case "NOTGENUINE": return "not a genuine code";
      case "PRODUCT": return "for another product";
      case "EXPIRED": return "expired";
      default: return "malformed data";
    }
  }
}
