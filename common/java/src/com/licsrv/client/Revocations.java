package com.licsrv.client;

import com.licsrv.client.VerifyException.Reason;
import com.licsrv.client.internal.Armor;
import com.licsrv.client.internal.AtomicFile;
import com.licsrv.client.internal.Envelope;
import com.licsrv.client.internal.Ids;
import com.licsrv.client.internal.Mp;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * The vendor's signed revocation list (docs/revocation.md, {@code typ} = {@code revocations}):
 * the license ids, account ids and designer activations (product, serial) the vendor revoked,
 * with a sequence number; each list repeats every entry of the one before, so the newest list
 * alone is the whole truth. Immutable and thread-safe.
 *
 * <p>What a report server or designer must do: keep the newest list it has seen in its state
 * directory with {@link #remember} (a list shipped beside the product, or one a license server
 * sent with a verify answer), and treat a license or activation the kept list names as revoked,
 * offline, whatever else holds. {@link LocalCheck#check(License, String, long, Optional,
 * Optional, Clock, Path, TrustStore, Optional)} and {@link Activation#check(Path, TrustStore,
 * int, java.time.Clock, Optional)} do both. The kept file is the one liblic and {@code licctl}
 * keep ({@code revocations.rev}), so a state directory moves between the C and Java clients.
 *
 * <pre>{@code
 * Optional<Revocations> rv = Revocations.remember(Path.of("/var/lib/reports/licctl"),
 *     Optional.of(Files.readAllBytes(Path.of("/opt/reports/revocations.rev"))),
 *     TrustStore.builtIn());
 * if (rv.isPresent() && rv.get().hasLicense(lic.id())) deny("revoked");
 * }</pre>
 */
public final class Revocations {
  /** The name of the kept copy in a state directory (raw envelope, mode 0600). */
  public static final String FILE = "revocations.rev";
  /** Entries in one list, licenses, accounts and activations together. */
  public static final int MAX_ENTRIES = 3600;
  private static final String TYP = "revocations";

  private final long seq;
  private final long issued;
  private final Set<UUID> licenses;
  private final Set<UUID> accounts;
  private final Set<Long> activations; // product << 32 | serial
  private final int count;
  private final byte[] body;

  private Revocations(Mp.Obj o, byte[] body) {
    seq = o.integer("seq", 1, Long.MAX_VALUE);
    issued = o.integer("issued", 1, Long.MAX_VALUE);
    List<byte[]> lic = o.binList("licenses", MAX_ENTRIES, 16);
    List<byte[]> acc = o.binList("accounts", MAX_ENTRIES - lic.size(), 16);
    Set<UUID> l = new HashSet<>();
    for (byte[] b : lic) {
      l.add(Ids.uuid(b));
    }
    Set<UUID> a = new HashSet<>();
    for (byte[] b : acc) {
      a.add(Ids.uuid(b));
    }
    Set<Long> act = new HashSet<>();
    if (!o.has("activations")) {
      throw new FormatException("missing key 'activations'", -1);
    }
    Mp v = o.value("activations");
    if (v.peek() != Mp.Kind.ARRAY) {
      throw new FormatException("key 'activations' is not a list", v.pos());
    }
    int n = v.array();
    int room = MAX_ENTRIES - lic.size() - acc.size();
    if (n > room) {
      throw new FormatException("key 'activations': " + n + " entries (at most " + room + ")",
          v.pos());
    }
    for (int i = 0; i < n; i++) {
      int at = v.pos();
      if (v.peek() != Mp.Kind.ARRAY || v.array() != 2 || v.peek() != Mp.Kind.INT) {
        throw new FormatException("key 'activations': entry " + i
            + " is not a [product, serial] pair", at);
      }
      long product = v.integer();
      if (v.peek() != Mp.Kind.INT) {
        throw new FormatException("key 'activations': entry " + i + " holds a non-integer", at);
      }
      long serial = v.integer();
      if (product < 0 || product > 255 || serial < 0 || serial > 0xffffffffL) {
        throw new FormatException("key 'activations': entry " + i + " is out of range", at);
      }
      act.add(product << 32 | serial);
    }
    licenses = Set.copyOf(l);
    accounts = Set.copyOf(a);
    activations = Set.copyOf(act);
    count = lic.size() + acc.size() + n;
    this.body = body;
  }

  /**
   * Reads a list file's bytes (armored or the raw envelope) and checks its signature.
   *
   * @param file the file's bytes
   * @param trust the vendor root keys
   * @return the checked list
   * @throws VerifyException when it is not signed by a trusted key, not a list, or malformed
   */
  public static Revocations read(byte[] file, TrustStore trust) throws VerifyException {
    Objects.requireNonNull(file, "file");
    Objects.requireNonNull(trust, "trust");
    try {
      return open(Armor.unarmorAny(file), trust);
    } catch (FormatException e) {
      throw Envelope.asVerify(e);
    }
  }

  static Revocations open(byte[] envelope, TrustStore trust) throws VerifyException {
    try {
      Envelope e = Envelope.open(envelope, TYP, "a revocation list");
      e.verify(trust);
      return new Revocations(e.bodyObj(), e.body());
    } catch (FormatException e) {
      throw Envelope.asVerify(e);
    }
  }

  /** What {@link #keep} did: the newest list and whether the given one was written. */
  static final class Kept {
    final Optional<Revocations> list;
    final boolean replaced;

    Kept(Optional<Revocations> list, boolean replaced) {
      this.list = list;
      this.replaced = replaced;
    }
  }

  /**
   * The newest list of the one kept in {@code stateDir/revocations.rev} and the given one, the
   * rule liblic's {@code lic_revocations_remember} follows: a given list with a higher seq
   * replaces the kept one (atomically, mode 0600; the directory is created 0700 when missing);
   * an older one is ignored (the kept one is returned: shipping last year's list does not bring
   * a revoked license back); one with the same seq is ignored when it is the same list and
   * refused when it differs. A given list that does not verify is refused and changes nothing.
   * A kept copy that no longer opens is an error too, not "no list": remove it to start over.
   *
   * @param stateDir the state directory
   * @param given a list file's bytes (armored or raw), or empty for the kept one alone
   * @param trust the vendor root keys
   * @return the newest list, empty when there is none at all
   * @throws VerifyException when the given list or the kept copy does not verify, or a
   *     different list is kept under the same seq ({@link Reason#MISMATCHED})
   * @throws IOException when the state directory cannot be read or written
   */
  public static Optional<Revocations> remember(Path stateDir, Optional<byte[]> given,
      TrustStore trust) throws VerifyException, IOException {
    Objects.requireNonNull(given, "given");
    byte[] env = null;
    if (given.isPresent()) {
      try {
        env = Armor.unarmorAny(given.get());
      } catch (FormatException e) {
        throw Envelope.asVerify(e);
      }
    }
    return keep(stateDir, env, trust).list;
  }

  static Kept keep(Path stateDir, byte[] env, TrustStore trust)
      throws VerifyException, IOException {
    Objects.requireNonNull(stateDir, "stateDir");
    Objects.requireNonNull(trust, "trust");
    Path path = stateDir.resolve(FILE);
    if (env == null) {
      return new Kept(loadKept(path, trust), false);
    }
    Revocations g = open(env, trust);
    if (!Files.isDirectory(stateDir)) {
      Files.createDirectories(stateDir,
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }
    // Two checkers remembering at once must not let the older list win the rename.
    try (FileChannel lock = FileChannel.open(stateDir.resolve(FILE + ".lock"),
            Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE),
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")))) {
      lock.lock(); // released when the channel closes
      Optional<Revocations> k = loadKept(path, trust);
      if (k.isPresent() && g.seq < k.get().seq) {
        return new Kept(k, false);
      }
      if (k.isPresent() && g.seq == k.get().seq) {
        if (Arrays.equals(g.body, k.get().body)) {
          return new Kept(k, false);
        }
        throw new VerifyException(Reason.MISMATCHED, "a different revocation list with seq "
            + g.seq + " is already kept in " + stateDir + ": refused");
      }
      AtomicFile.write(path, env, "rw-------");
      return new Kept(Optional.of(g), true);
    }
  }

  private static Optional<Revocations> loadKept(Path path, TrustStore trust)
      throws VerifyException, IOException {
    byte[] buf;
    try {
      if (Files.size(path) > Armor.MAX_FILE) {
        throw new VerifyException(Reason.FORMAT, path + ": the kept revocation list is larger than "
            + Armor.MAX_FILE + " bytes; remove it to start over");
      }
      buf = Files.readAllBytes(path);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    }
    try {
      return Optional.of(open(buf, trust));
    } catch (VerifyException e) {
      throw new VerifyException(e.reason(), path + ": the kept revocation list does not open ("
          + e.getMessage() + "); remove it to start over", e);
    }
  }

  /** @return the sequence number, 1 for the first list, one more for each next one */
  public long seq() {
    return seq;
  }

  /** @return when the vendor signed it (Unix seconds) */
  public long issued() {
    return issued;
  }

  /** @return the number of entries, licenses, accounts and activations together */
  public int size() {
    return count;
  }

  /**
   * @param id a license id
   * @return whether the list revokes that license
   */
  public boolean hasLicense(UUID id) {
    return licenses.contains(id);
  }

  /**
   * @param id a public-mode account id
   * @return whether the list revokes that account
   */
  public boolean hasAccount(UUID id) {
    return accounts.contains(id);
  }

  /**
   * @param product the activation code's product id (0..255)
   * @param serial its serial (0..2^32-1)
   * @return whether the list revokes that designer activation
   */
  public boolean hasActivation(int product, long serial) {
    return product >= 0 && product <= 255 && serial >= 0 && serial <= 0xffffffffL
        && activations.contains((long) product << 32 | serial);
  }

  /** @return the revoked license ids, in no particular order */
  public List<UUID> licenses() {
    return List.copyOf(new ArrayList<>(licenses));
  }
}
