package com.licsrv.client;

import com.licsrv.client.internal.Cli;
import com.licsrv.client.internal.Ids;
import com.licsrv.client.internal.Mp;
import com.licsrv.client.internal.MpWriter;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongUnaryOperator;

/**
 * The report server's license session: heartbeat, grace and failover (docs/integration.md).
 *
 * <p>A pure state machine driven by {@link #tick(long)}: it checks with the servers when a
 * check is due (the primary first, then standbys; the one that answered last is asked first),
 * retries failed checks with backoff (from the smaller of 1 minute and the heartbeat, doubling
 * up to the heartbeat, ±10% jitter), and says when to call again. {@link #state()} is
 * {@code licensed} while the last valid verdict is younger than its heartbeat, {@code grace}
 * until its time plus grace, {@code unlicensed} from {@code grace_until} itself, at once on a
 * signed denial, or when the clock went back more than an hour below its high-water mark.
 * With a state directory the last valid verdict and its chain are kept in
 * {@code session.state} (the format licctl's session uses) and checked again on load, so a
 * restart during an outage keeps the original deadline, never a later one.
 *
 * <p>Revocation lists (docs/revocation.md): with a state directory the session also keeps the
 * vendor's newest revocation list there ({@code revocations.rev}, as liblic's session does). It
 * sends the kept list's seq with every check; a private-mode server keeping a newer list sends
 * it with its answer, and the session keeps it when it verifies against the verifier's trust
 * store (a forged one changes nothing: {@link Snapshot#revocationsNote} says why). A license
 * on the kept list reads {@code unlicensed}, reason {@code revoked}, whatever a server says
 * and across restarts. What a report server must do: give the session a state directory that
 * lives as long as the installation, and log {@link Snapshot#revocationsNote} when
 * {@link Snapshot#revocationsEvents} moves (a refused list may be an attack).
 *
 * <p>Thread-safe: every method may be called from any thread; {@link #state()} and
 * {@link #snapshot} read a published copy and never wait for a check in progress. It starts
 * no thread unless {@link #start} is given an executor.
 *
 * <pre>{@code
 * Session session = Session.newBuilder(verifier,
 *         List.of(URI.create("https://licsrv-a:7470"), URI.create("https://licsrv-b:7470")))
 *     .stateDir(Path.of("/var/lib/reports/license"))
 *     .build();
 * session.start(Executors.newSingleThreadScheduledExecutor());
 * // per request, or in LicenseFilter:
 * if (session.state() == Session.State.UNLICENSED) { ... answer 503 ... }
 * }</pre>
 */
public final class Session {
  /** Seconds the clock may go back below the high-water mark. */
  public static final long ROLLBACK = 3600;
  /** First retry after a failed check, when the heartbeat is longer. */
  public static final long BASE_RETRY = 60;
  /** The state file's name in the state directory. */
  public static final String FILE = "session.state";
  static final long DEFAULT_HEARTBEAT = 7200;
  static final long DEFAULT_GRACE = 86400;
  private static final int FILE_VERSION = 1;

  /** The licence state. */
  public enum State {
    /** A valid verdict younger than its heartbeat. */
    LICENSED,
    /** The last valid verdict is older, or checks fail, but it is younger than its grace. */
    GRACE,
    /** Never valid, a signed denial, grace run out, or the clock went back. */
    UNLICENSED;

    /** @return the name status.json uses */
    public String wireName() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** Why the session is in its state. */
  public enum Reason {
    /** Licensed by a valid verdict. */
    VALID,
    /** Grace: the heartbeat has passed and no check has answered yet. */
    STALE,
    /** Grace: the last check round got no trustworthy answer. */
    CHECK_FAILED,
    /** Unlicensed: grace ran out. */
    GRACE_EXPIRED,
    /** Unlicensed: the license expired. */
    EXPIRED,
    /** Unlicensed: no valid verdict yet. */
    NO_VERDICT,
    /** Unlicensed: the clock went back more than an hour. */
    CLOCK_ROLLBACK,
    /** Unlicensed: a signed denial (see {@link Snapshot#denial}). */
    DENIED
  }

  /** What the session says at one moment. Immutable. */
  public static final class Snapshot {
    /** The state. */
    public final State state;
    /** Why. */
    public final Reason reason;
    /** The denial's status, when a signed denial ended the license. */
    public final Optional<Status> denial;
    /** A denial's reason text from the server, or "". */
    public final String detail;
    /** The features of the last valid verdict (empty when none). */
    public final List<String> features;
    /** License expiry (Unix seconds), 0 = perpetual or unknown. */
    public final long expires;
    /** When grace ends (Unix seconds), 0 when there is no valid verdict. */
    public final long graceUntil;
    /** The time of the last valid verdict, 0 = none. */
    public final long lastValid;
    /** The heartbeat of the last trustworthy verdict. */
    public final long heartbeat;
    /** The grace of the last trustworthy verdict. */
    public final long grace;
    /** The last failed check ("" when the last check answered). */
    public final String lastError;
    /** The server that gave the last trustworthy answer ("" = none). */
    public final String server;
    /** The last check round (0 = none yet). */
    public final long checkedAt;
    /** When the next check round is due. */
    public final long nextCheck;
    /** Failed rounds since the last trustworthy answer. */
    public final int failures;
    /** The seq of the vendor revocation list kept in the state directory, 0 = none. */
    public final long revocationsSeq;
    /** The last thing that happened to a list a server sent (kept, ignored and why), "". */
    public final String revocationsNote;
    /** Counts those notes: log {@link #revocationsNote} when it moves. */
    public final int revocationsEvents;
    /** The last note is a list refused (forged, damaged) or a kept copy that does not open. */
    public final boolean revocationsRefused;

    Snapshot(View s, long now) {
      Object[] c = s.compute(now);
      state = (State) c[0];
      reason = (Reason) c[1];
      denial = s.denied ? Optional.of(s.denial) : Optional.empty();
      detail = s.denied ? s.denialReason : "";
      features = s.haveValid ? s.features : List.of();
      expires = s.haveValid ? s.lvExpires : 0;
      graceUntil = s.haveValid ? s.graceUntil() : 0;
      lastValid = s.haveValid ? s.lastValid : 0;
      heartbeat = s.heartbeat;
      grace = s.grace;
      lastError = s.lastError;
      server = s.server;
      checkedAt = s.checkedAt;
      nextCheck = s.nextCheck;
      failures = s.failures;
      revocationsSeq = s.revSeq;
      revocationsNote = s.revNote;
      revocationsEvents = s.revEvents;
      revocationsRefused = s.revRefused;
    }

    /** @return the reason as status.json names it (a denial by its status) */
    public String reasonName() {
      return reason == Reason.DENIED ? denial.map(Status::wireName).orElse("denied")
          : reason.name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /**
   * What readers see: an immutable copy of the session's facts, published at the end of every
   * change, so {@link #state()} never waits for a check in progress.
   */
  private static final class View {
    final boolean haveValid;
    final long lastValid;
    final long lvHeartbeat;
    final long lvGrace;
    final long lvExpires;
    final List<String> features;
    final boolean denied;
    final Status denial;
    final String denialReason;
    final long heartbeat;
    final long grace;
    final boolean lastFailed;
    final int failures;
    final String lastError;
    final String server;
    final long checkedAt;
    final long nextCheck;
    final long hwm;
    final long revSeq;
    final String revNote;
    final int revEvents;
    final boolean revRefused;

    View(Session s) {
      haveValid = s.haveValid;
      lastValid = s.lastValid;
      lvHeartbeat = s.lvHeartbeat;
      lvGrace = s.lvGrace;
      lvExpires = s.lvExpires;
      features = s.features;
      // The last valid verdict's license (or account) on the kept revocation list reads
      // revoked, whichever server said valid and whenever the list came.
      Revocations rv = s.rev;
      boolean listed = !s.denied && s.haveValid && s.lvId != null && rv != null
          && (s.lvAccount ? rv.hasAccount(s.lvId) : rv.hasLicense(s.lvId));
      denied = s.denied || listed;
      denial = listed ? Status.REVOKED : s.denial;
      denialReason = listed ? "the " + (s.lvAccount ? "account" : "license")
          + " is on the vendor's revocation list (seq " + rv.seq() + ")" : s.denialReason;
      revSeq = rv != null ? rv.seq() : 0;
      revNote = s.revNote;
      revEvents = s.revEvents;
      revRefused = s.revRefused;
      heartbeat = s.heartbeat;
      grace = s.grace;
      lastFailed = s.lastFailed;
      failures = s.failures;
      lastError = s.lastError;
      server = s.server;
      checkedAt = s.checkedAt;
      nextCheck = s.nextCheck;
      hwm = s.hwm;
    }

    long graceUntil() {
      long g = lastValid + lvGrace;
      return lvExpires != 0 && lvExpires < g ? lvExpires : g;
    }

    Object[] compute(long now) {
      if (now + ROLLBACK < hwm) {
        return new Object[] {State.UNLICENSED, Reason.CLOCK_ROLLBACK};
      }
      if (denied) {
        return new Object[] {State.UNLICENSED, Reason.DENIED};
      }
      if (!haveValid) {
        return new Object[] {State.UNLICENSED, Reason.NO_VERDICT};
      }
      if (now >= graceUntil()) {
        return new Object[] {State.UNLICENSED,
            lvExpires != 0 && now >= lvExpires ? Reason.EXPIRED : Reason.GRACE_EXPIRED};
      }
      if (now < lastValid + lvHeartbeat && !lastFailed) {
        return new Object[] {State.LICENSED, Reason.VALID};
      }
      return new Object[] {State.GRACE, lastFailed ? Reason.CHECK_FAILED : Reason.STALE};
    }
  }

  private volatile View view;

  private void publish() {
    view = new View(this);
  }

  private final Verifier verifier;
  private final List<URI> urls;
  private final Path path;
  private final Path stateDir;
  // The vendor's revocation list kept in the state directory (docs/revocation.md).
  private Revocations rev;
  private String revNote = "";
  private int revEvents;
  private boolean revRefused;
  private UUID lvId;
  private boolean lvAccount;
  private final Clock clock;
  private final LongUnaryOperator jitter;
  private int preferred;

  private boolean haveValid;
  private long lastValid;
  private long lvHeartbeat;
  private long lvGrace;
  private long lvExpires;
  private List<String> features = List.of();
  private Verifier.Checked proof;

  private boolean denied;
  private Status denial;
  private String denialReason = "";
  private int denials;

  private long heartbeat = DEFAULT_HEARTBEAT;
  private long grace = DEFAULT_GRACE;
  private boolean lastFailed;
  private int failures;
  private String lastError = "";
  private String server = "";
  private long checkedAt;
  private long nextCheck;
  private volatile boolean force;
  private long hwm;
  private long hwmSaved;
  private boolean rollback;
  private ScheduledFuture<?> running;
  private final Object runLock = new Object();

  private Session(Builder b) {
    verifier = b.verifier;
    urls = List.copyOf(b.urls);
    path = b.stateDir == null ? null : b.stateDir.resolve(FILE);
    stateDir = b.stateDir;
    clock = b.clock;
    jitter = b.jitter;
    long now = clock.instant().getEpochSecond();
    nextCheck = now;
    if (path != null) {
      try {
        Files.createDirectories(b.stateDir, PosixFilePermissions.asFileAttribute(
            PosixFilePermissions.fromString("rwx------")));
      } catch (IOException e) {
        lastError = "state file " + path + ": " + e.getMessage();
      }
      load();
      try {
        rev = Revocations.remember(stateDir, Optional.empty(), verifier.trust).orElse(null);
      } catch (VerifyException | IOException e) {
        // noted; a newer list cannot replace it either: remove it to start over
        revNote = e.getMessage();
        revRefused = true;
        revEvents++;
      }
    }
    publish();
  }

  /** A list a server sent with a checked answer: kept when newer (verified; forged: noted). */
  private void takeRevocations(Verifier.Checked c, URI u) {
    if (c.revocations.isEmpty() || stateDir == null) {
      return;
    }
    try {
      Revocations.Kept k = Revocations.keep(stateDir, c.revocations.get(), verifier.trust);
      revRefused = false;
      rev = k.list.orElse(rev);
      revNote = k.replaced ? "revocation list seq " + rev.seq() + " from " + u + " kept"
          : "revocation list from " + u + " not newer than the kept seq " + rev.seq();
    } catch (VerifyException | IOException e) {
      revRefused = true;
      revNote = "revocation list from " + u + " ignored: " + (e instanceof VerifyException
          ? Cli.reasonText(((VerifyException) e).reason()) + ": " : "input/output error: ")
          + e.getMessage();
    }
    revEvents++;
  }

  /**
   * A builder (not thread-safe).
   *
   * @param verifier the question and the checks (domain, port, node, license or account, TLS)
   * @param servers primary first, then standbys (1..16)
   * @return the builder
   * @throws IllegalArgumentException when no server or more than 16 are given
   */
  public static Builder newBuilder(Verifier verifier, List<URI> servers) {
    return new Builder(verifier, servers);
  }

  /** The options of a {@link Session}; not thread-safe. */
  public static final class Builder {
    private final Verifier verifier;
    private final List<URI> urls;
    private Path stateDir;
    private Clock clock = Clock.systemUTC();
    private LongUnaryOperator jitter = Session::jitter;

    private Builder(Verifier verifier, List<URI> servers) {
      this.verifier = Objects.requireNonNull(verifier, "verifier");
      if (servers.isEmpty() || servers.size() > 16) {
        throw new IllegalArgumentException("give 1 to 16 server URLs");
      }
      this.urls = new ArrayList<>(servers);
    }

    /**
     * Where the last valid verdict is kept (created 0700; the file is 0600).
     *
     * @param dir the state directory
     * @return this builder
     */
    public Builder stateDir(Path dir) {
      stateDir = Objects.requireNonNull(dir, "dir");
      return this;
    }

    /**
     * The clock {@link #state()} and {@link #start} read (default: the system's).
     *
     * @param c the clock
     * @return this builder
     */
    public Builder clock(Clock c) {
      clock = Objects.requireNonNull(c, "clock");
      return this;
    }

    Builder jitter(LongUnaryOperator j) {
      jitter = j;
      return this;
    }

    /**
     * Builds the session, loading and re-checking the state file when there is one (a file
     * that does not check is ignored and named in {@link Snapshot#lastError}).
     *
     * @return the session
     */
    public Session build() {
      return new Session(this);
    }
  }

  /**
   * The retry delay after n consecutive failed rounds, before jitter.
   *
   * @param heartbeat the heartbeat
   * @param n failed rounds, at least 1
   * @return min(heartbeat, 60) doubling to heartbeat
   */
  public static long backoff(long heartbeat, int n) {
    long hb = heartbeat > 0 ? heartbeat : DEFAULT_HEARTBEAT;
    long d = Math.min(hb, BASE_RETRY);
    for (int i = 1; i < n && d < hb; i++) {
      d *= 2;
    }
    return Math.min(d, hb);
  }

  private static final SecureRandom RANDOM = new SecureRandom();

  /** d * (0.9 .. 1.1), rounded to the second, at least 1 s. */
  static long jitter(long d) {
    long ms = d * 1000;
    long j = ms - ms / 10 + (long) (RANDOM.nextDouble() * (ms / 5 + 1));
    return Math.max(1, (j + 500) / 1000);
  }

  private long graceUntil() {
    long g = lastValid + lvGrace;
    return lvExpires != 0 && lvExpires < g ? lvExpires : g;
  }

  /**
   * The state now (by the session's clock), without any network call: cheap enough for
   * every request.
   *
   * @return the state
   */
  public State state() {
    return (State) view.compute(clock.instant().getEpochSecond())[0];
  }

  /**
   * Everything the session says at a moment.
   *
   * @param now Unix seconds
   * @return the snapshot
   */
  public Snapshot snapshot(long now) {
    return new Snapshot(view, now);
  }

  /** Makes the next tick check at once (STATE/check-now in the Java agent). */
  public void checkNow() {
    force = true;
  }

  private void adopt(Verifier.Checked c, long localNow) {
    Verdict v = c.verdict;
    haveValid = true;
    lastValid = Math.min(v.time(), localNow);
    long hb = v.heartbeat() > 0 ? v.heartbeat() : c.license.map(License::heartbeat).orElse(0L);
    long gr = v.grace() > 0 ? v.grace() : c.license.map(License::grace).orElse(0L);
    if (hb < 1) {
      hb = DEFAULT_HEARTBEAT;
    }
    lvHeartbeat = hb;
    lvGrace = Math.max(gr, hb);
    lvExpires = v.expires();
    features = v.features();
    lvAccount = v.license().isEmpty() && v.account().isPresent();
    lvId = v.license().orElse(v.account().orElse(null));
    proof = c;
    heartbeat = lvHeartbeat;
    grace = lvGrace;
    hwm = Math.max(hwm, v.time());
  }

  private void clearValid() {
    haveValid = false;
    lastValid = lvHeartbeat = lvGrace = lvExpires = 0;
    features = List.of();
    proof = null;
    lvId = null;
  }

  private void checkRound(long now) {
    StringBuilder errs = new StringBuilder();
    checkedAt = now;
    for (int k = 0; k < urls.size(); k++) {
      int i = k == 0 ? preferred : (k <= preferred ? k - 1 : k);
      URI u = urls.get(i);
      Verifier.Checked c;
      try {
        c = verifier.exchange(u, rev != null ? rev.seq() : 0);
        if (!c.verdict.signed()) {
          // A denial without a chain is unsigned: anyone on the path could send one.
          throw new VerifyException(VerifyException.Reason.IO, c.verdict.status().wireName() + ": "
              + c.verdict.reason() + " (unsigned: the server sent no license)");
        }
      } catch (VerifyException | RuntimeException e) {
        // Whatever goes wrong with one server is a failed check, never a dead session.
        errs.append(errs.length() > 0 ? "; " : "").append(u).append(": ").append(e.getMessage());
        continue;
      }
      takeRevocations(c, u);
      preferred = i;
      server = u.toString();
      lastFailed = false;
      failures = 0;
      lastError = "";
      if (c.verdict.status() == Status.VALID) {
        denied = false;
        denials = 0;
        rollback = false;
        // Our clock agrees with a trusted server's: whatever set the mark higher was wrong.
        hwm = now;
        // The time the answer was checked at, as a restart will see it in the state file:
        // both count the verdict from the same second, so the deadline never moves.
        adopt(c, c.checkedAt);
        long due = lastValid + lvHeartbeat;
        nextCheck = due > now ? due : now + 1;
      } else {
        clearValid();
        denied = true;
        denial = c.verdict.status();
        denialReason = c.verdict.reason();
        heartbeat = c.verdict.heartbeat() > 0 ? c.verdict.heartbeat() : DEFAULT_HEARTBEAT;
        grace = Math.max(c.verdict.grace(), heartbeat);
        nextCheck = now + jitter.applyAsLong(backoff(heartbeat, ++denials));
      }
      save();
      return;
    }
    lastFailed = true;
    failures++;
    lastError = errs.length() > 1024 ? errs.substring(0, 1024) : errs.toString();
    nextCheck = now + jitter.applyAsLong(backoff(heartbeat, failures));
  }

  /**
   * Advances to now: runs a check round when one is due, then says when to call again (the
   * next check, or an earlier moment at which the state changes by itself).
   *
   * @param now Unix seconds
   * @return the next time to call, always after now
   */
  public synchronized long tick(long now) {
    // The clock went back: nothing measured on it can be believed; ask a server at once.
    if (now + ROLLBACK < hwm) {
      if (!rollback) {
        nextCheck = now;
      }
      rollback = true;
    } else {
      rollback = false;
      if (now > hwm) {
        hwm = now;
      }
    }
    if (force || now >= nextCheck) {
      force = false;
      checkRound(now);
    }
    if (!rollback && hwm - hwmSaved >= BASE_RETRY) {
      save();
    }
    publish();
    State st = (State) view.compute(now)[0];
    long wake = nextCheck;
    if (haveValid && !denied && !rollback) {
      long hbEnd = lastValid + lvHeartbeat;
      long gu = graceUntil();
      if (st == State.LICENSED && hbEnd > now && hbEnd < wake) {
        wake = hbEnd;
      }
      if (gu > now && gu < wake) {
        wake = gu;
      }
    }
    return wake > now ? wake : now + 1;
  }

  /**
   * Runs the session on an executor: ticks at every wake-up (at most 5 s apart, so a clock
   * jump is seen) until {@link #stop}.
   *
   * @param executor the executor that runs the checks (network calls happen there)
   */
  public void start(ScheduledExecutorService executor) {
    synchronized (runLock) {
      startLocked(executor);
    }
  }

  private void startLocked(ScheduledExecutorService executor) {
    Objects.requireNonNull(executor, "executor");
    if (running != null) {
      throw new IllegalStateException("already started");
    }
    running = executor.schedule(new Runnable() {
      @Override
      public void run() {
        long now = clock.instant().getEpochSecond();
        long wake;
        try {
          wake = tick(now);
        } catch (RuntimeException e) {
          wake = now + BASE_RETRY; // keep ticking: grace_until still ends the licence on time
        }
        synchronized (runLock) {
          if (running != null && !running.isCancelled()) {
            long ms = Math.max(1, Math.min(wake - now, 5)) * 1000;
            running = executor.schedule(this, ms, TimeUnit.MILLISECONDS);
          }
        }
      }
    }, 0, TimeUnit.MILLISECONDS);
  }

  /** Stops what {@link #start} began (the state stays readable). */
  public void stop() {
    synchronized (runLock) {
      if (running != null) {
        running.cancel(false);
        running = null;
      }
    }
  }

  /**
   * The state a running session left in its state directory, trusting only what checks: the
   * stored verdict and its chain are verified again (trust store, chain, node, terms) and the
   * state is computed for now; no network call is made and status.json is never read.
   *
   * @param stateDir the session's state directory
   * @param trust the vendor root keys
   * @param question the verify options to check the stored answer against; empty: the ones
   *     the session recorded in its state file
   * @param clock the clock
   * @return the snapshot now (unlicensed, with the reason in lastError, when nothing checks)
   * @throws NoSuchFileException when there is no state file
   * @throws IOException when it cannot be read
   */
  public static Snapshot readState(Path stateDir, TrustStore trust, Optional<Verifier> question,
      Clock clock) throws IOException {
    Path p = stateDir.resolve(FILE);
    if (Files.size(p) > Verifier.MAX_RESPONSE + 4096) {
      throw new IOException(p + ": too large for a session state file");
    }
    byte[] buf = Files.readAllBytes(p);
    Verifier v;
    String problem = null;
    if (question.isPresent()) {
      v = question.get();
    } else {
      Verifier.Builder b = Verifier.newBuilder().trust(trust);
      try {
        Mp.Obj q = Mp.parse(buf).obj("question");
        b.domain(q.str("domain", 1, 253)).port(q.integer("port", 1, 65535)).node(q.str("node", 1, 128));
        if (q.has("app")) {
          b.app(q.str("app", 1, 128));
        }
        if (q.has("version")) {
          b.version(q.str("version", 1, 128));
        }
        if (q.has("license")) {
          b.license(Ids.uuid(q.binx("license", 16)));
        }
        if (q.has("account")) {
          b.account(Ids.uuid(q.binx("account", 16)), "", Ids.uuid(q.binx("project_id", 16)));
        }
      } catch (FormatException | IllegalArgumentException e) {
        problem = "no check options recorded in " + p + " (" + e.getMessage()
            + "): give the agent's --domain, --port and --node";
        b.domain("invalid.invalid").port(1).node("-");
      }
      v = b.build();
    }
    Session s = newBuilder(v, List.of(URI.create("http://localhost"))).stateDir(stateDir)
        .clock(clock).build();
    synchronized (s) {
      if (problem != null) {
        s.clearValid();
        s.denied = false;
        s.lastError = problem;
        s.publish();
      }
      return s.snapshot(clock.instant().getEpochSecond());
    }
  }

  // --- the state file (licctl's session.state, plus the question for `status`) -----------

  private void save() {
    if (path == null) {
      return;
    }
    int n = 4 + (haveValid ? 3 : 0) + (denied ? 2 : 0);
    MpWriter w = new MpWriter().map(n);
    w.str("v").integer(FILE_VERSION).str("hwm").integer(hwm).str("server").str(server);
    if (haveValid) {
      w.str("response").bin(proof.body).str("nonce").bin(proof.nonce)
          .str("checked_at").integer(proof.checkedAt);
    }
    if (denied) {
      w.str("denied").str(denial.wireName()).str("reason").str(denialReason);
    }
    // The question the verdict answers, so a reader (java -jar liblic.jar status) can check
    // the stored chain the same way; unsigned, it can only change what is checked.
    Map<String, Object> q = verifier.question();
    w.str("question").map(q.size());
    for (Map.Entry<String, Object> e : q.entrySet()) {
      w.str(e.getKey());
      Object v = e.getValue();
      if (v instanceof Long) {
        w.integer((Long) v);
      } else if (v instanceof UUID) {
        w.bin(Ids.bytes((UUID) v));
      } else {
        w.str((String) v);
      }
    }
    try {
      com.licsrv.client.internal.AtomicFile.write(path, w.toBytes(), "rw-------");
      hwmSaved = hwm;
    } catch (IOException e) {
      lastError = "state file " + path + ": " + e.getMessage();
    }
  }

  private void load() {
    byte[] buf;
    try {
      if (Files.size(path) > Verifier.MAX_RESPONSE + 4096) {
        lastError = "state file " + path + " ignored: too large";
        return;
      }
      buf = Files.readAllBytes(path);
    } catch (NoSuchFileException e) {
      return;
    } catch (IOException e) {
      lastError = "state file " + path + " ignored: " + e.getMessage();
      return;
    }
    boolean wasDenied = false;
    try {
      Mp.Obj o = Mp.parse(buf);
      o.integer("v", FILE_VERSION, FILE_VERSION);
      long h = o.integer("hwm", 0, Long.MAX_VALUE);
      String srv = o.str("server", 0, 511);
      hwm = Math.max(hwm, h);
      hwmSaved = hwm;
      for (int i = 0; i < urls.size(); i++) {
        if (urls.get(i).toString().equals(srv)) {
          preferred = i;
        }
      }
      if (o.has("denied")) {
        String d = o.str("denied", 1, 64);
        String r = o.str("reason", 0, 200);
        Optional<Status> st = Status.fromWire(d);
        if (st.isEmpty() || st.get() == Status.VALID) {
          throw new FormatException("'" + d + "' is not a denial", -1);
        }
        denied = wasDenied = true;
        denial = st.get();
        denialReason = r;
        server = srv;
      }
      if (o.has("response")) {
        byte[] body = o.bin("response", 1, Verifier.MAX_RESPONSE);
        byte[] nonce = o.bin("nonce", 16, 64);
        long at = o.integer("checked_at", 0, Long.MAX_VALUE);
        Verifier.Checked c = verifier.check(nonce, at, body);
        if (c.verdict.status() != Status.VALID) {
          throw new FormatException("the stored verdict is not valid", -1);
        }
        if (!denied) {
          adopt(c, at);
          server = srv;
        }
      }
    } catch (FormatException | VerifyException e) {
      lastError = "state file " + path + " ignored: " + e.getMessage();
      denied = false;
      if (wasDenied) {
        denialReason = "";
      }
    }
  }
}
