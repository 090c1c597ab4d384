package com.licsrv.client.internal;

import static com.licsrv.client.internal.Cli.FAIL;
import static com.licsrv.client.internal.Cli.OK;
import static com.licsrv.client.internal.Cli.VERIFY_OPTS;
import static com.licsrv.client.internal.Cli.parseInt;
import static com.licsrv.client.internal.Cli.projectId;
import static com.licsrv.client.internal.Cli.stateDir;
import static com.licsrv.client.internal.Cli.trust;
import static com.licsrv.client.internal.Cli.url;
import static com.licsrv.client.internal.Cli.verifier;

import com.licsrv.client.FormatException;
import com.licsrv.client.TrustStore;
import com.licsrv.client.Verifier;
import com.licsrv.client.internal.Cli.Failure;
import com.licsrv.client.internal.Cli.Opts;
import com.licsrv.client.internal.Cli.Usage;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** {@code agent} and {@code status}: the command line on the license session (see Cli). */
final class SessionCli {
  private final PrintStream out;
  private final PrintStream err;

  SessionCli(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  private static final String AGENT_HELP =
      "usage: java -jar liblic.jar agent URL [URL...] --domain D --port P --node N\n"
      + "         [--license ID | --account ID --token-file F] [--app A] [--version V]\n"
      + "         [--secret-file F] [--trust PUB.pem]... [--cacert FILE | --pin PIN...]\n"
      + "         [--timeout MS] [--state DIR]\n\n"
      + "Runs the license session in the foreground, as licctl agent does\n"
      + "(docs/integration.md): checks with the license servers (the first URL is the\n"
      + "primary, the others standbys; the one that answered last is asked first) every\n"
      + "heartbeat, retries failed checks with backoff, stays in grace while no server\n"
      + "gives a trustworthy answer, and turns unlicensed at once on a signed denial or\n"
      + "when grace runs out. The last valid verdict is kept in STATE/session.state and\n"
      + "checked again at start. Every change is written to STATE/status.json, a\n"
      + "convenience for dashboards: it is not signed, so 'status' never believes it.\n"
      + "SIGTERM, SIGINT or SIGHUP: exit 0. To check now (licctl agent's SIGHUP), create\n"
      + "STATE/check-now (touch it): the agent checks at once and removes it.\n";

  static final long CHUNK_S = 5;

  /** Held while the agent runs; a field, so that no collection closes it (and drops the lock). */
  private static java.nio.channels.FileChannel agentLock;

  /**
   * STATE/agent.lock, the one licctl agent holds: a POSIX record lock on the whole file, which
   * liblic's fcntl OFD lock excludes both ways, so neither a Java nor a C agent starts beside
   * the other. The file names its holder ("pid N"), as licctl's does.
   */
  static java.nio.channels.FileChannel lockAgent(Path path) throws IOException, Failure {
    java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(path,
        Set.of(java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.READ,
            java.nio.file.StandardOpenOption.WRITE, java.nio.file.LinkOption.NOFOLLOW_LINKS),
        java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
            java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
    try {
      if (ch.tryLock() == null) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(64);
        ch.read(b, 0);
        String who = new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
        who = who.contains("\n") ? who.substring(0, who.indexOf('\n')) : who;
        throw new Failure(FAIL, path.getParent().toString(), "another agent ("
            + (who.isEmpty() ? "pid unknown" : who) + ") runs with this state directory: "
            + "stop it, or give this one its own --state");
      }
      ch.truncate(0);
      ch.write(java.nio.ByteBuffer.wrap(("pid " + ProcessHandle.current().pid() + "\n")
          .getBytes(StandardCharsets.UTF_8)), 0);
      return ch;
    } catch (IOException | Failure | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  int agent(String[] args) throws Usage, Failure {
    Opts o = Opts.parse(args, VERIFY_OPTS, Set.of());
    if (o.help) {
      out.print(AGENT_HELP);
      return OK;
    }
    if (o.operands.isEmpty() || o.operands.size() > 16) {
      throw new Usage("give 1 to 16 server URLs");
    }
    List<URI> urls = new ArrayList<>();
    for (String u : o.operands) {
      urls.add(url(u));
    }
    Verifier v = verifier("agent", o);
    Path dir = stateDir(o.one("state"));
    try {
      Files.createDirectories(dir);
      agentLock = lockAgent(dir.resolve("agent.lock"));
    } catch (IOException e) {
      throw new Failure(FAIL, "agent", "input/output error: " + e.getMessage());
    }
    com.licsrv.client.Session s = com.licsrv.client.Session.newBuilder(v, urls).stateDir(dir).build();
    Runtime.getRuntime().addShutdownHook(new Thread(() -> Runtime.getRuntime().halt(OK)));
    watchCheckNow(dir);
    Path statusFile = dir.resolve("status.json");
    String last = null;
    String prev = null;
    int prevRev = 0;
    while (true) {
      long now = Clock.systemUTC().instant().getEpochSecond();
      long wake = s.tick(now);
      com.licsrv.client.Session.Snapshot in = s.snapshot(now);
      String key = in.state + "/" + in.reasonName();
      if (!key.equals(prev)) {
        logState(in, now);
        prev = key;
      }
      if (in.revocationsEvents != prevRev) {
        // A revocation list a server sent: kept, or ignored (forged, damaged...) with why.
        err.println("ts=" + Ids.time(now) + " level=" + (in.revocationsRefused ? "warn" : "info")
            + " msg=revocations seq=" + in.revocationsSeq + " note=\"" + in.revocationsNote + "\"");
        prevRev = in.revocationsEvents;
      }
      String doc = statusJson(in, o.one("node").orElse(""));
      if (!doc.equals(last)) {
        try {
          AtomicFile.write(statusFile,
              (doc + "\n").getBytes(StandardCharsets.UTF_8), "rw-r--r--");
          last = doc;
        } catch (IOException e) {
          err.println("ts=" + Ids.time(now) + " level=error msg=status_write path=\"" + statusFile
              + "\" error=\"" + e.getMessage() + "\"");
        }
      }
      long ms = Math.min(wake - now, CHUNK_S) * 1000 + 1;
      synchronized (checkNow) {
        if (!checkNow[0]) {
          try {
            checkNow.wait(Math.max(ms - System.currentTimeMillis() % 1000, 1));
          } catch (InterruptedException e) {
            return OK;
          }
        }
        if (checkNow[0]) {
          checkNow[0] = false;
          s.checkNow();
        }
      }
    }
  }

  private final boolean[] checkNow = {false};

  /** The file whose appearance in the state directory makes the agent check at once. */
  static final String CHECK_NOW = "check-now";

  /**
   * STATE/check-now created (or touched) makes the agent check at once and removes it: what
   * SIGHUP does for licctl agent, which the JDK offers no signal API for outside its internals.
   * A WatchService (inotify on Linux) on a daemon thread; a leftover file is removed at start
   * (the agent checks at start anyway).
   */
  private void watchCheckNow(Path dir) {
    Path file = dir.resolve(CHECK_NOW);
    try {
      Files.deleteIfExists(file);
      java.nio.file.WatchService ws = dir.getFileSystem().newWatchService();
      dir.register(ws, java.nio.file.StandardWatchEventKinds.ENTRY_CREATE,
          java.nio.file.StandardWatchEventKinds.ENTRY_MODIFY);
      Thread t = new Thread(() -> {
        while (true) {
          try {
            java.nio.file.WatchKey k = ws.take();
            k.pollEvents(); // any change: the file says whether to check
            k.reset();
            if (Files.deleteIfExists(file)) {
              synchronized (checkNow) {
                checkNow[0] = true;
                checkNow.notifyAll();
              }
            }
          } catch (InterruptedException | java.nio.file.ClosedWatchServiceException e) {
            return;
          } catch (IOException e) {
            err.println("ts=" + Ids.time(Clock.systemUTC().instant().getEpochSecond())
                + " level=error msg=check_now path=\"" + file + "\" error=\"" + e.getMessage()
                + "\"");
          }
        }
      }, "check-now");
      t.setDaemon(true);
      t.start();
    } catch (IOException e) {
      err.println("ts=" + Ids.time(Clock.systemUTC().instant().getEpochSecond())
          + " level=warn msg=no_check_now path=\"" + file + "\" error=\"" + e.getMessage()
          + "\"");
    }
  }

  private void logState(com.licsrv.client.Session.Snapshot in, long now) {
    StringBuilder b = new StringBuilder("ts=" + Ids.time(now) + " level="
        + (in.state == com.licsrv.client.Session.State.LICENSED ? "info" : "warn")
        + " msg=state state=" + in.state.wireName() + " reason=" + in.reasonName()
        + " server=\"" + in.server + "\"");
    if (in.graceUntil > 0) {
      b.append(" grace_until=").append(Ids.time(in.graceUntil));
    }
    if (!in.detail.isEmpty()) {
      b.append(" detail=\"").append(in.detail).append('"');
    }
    if (!in.lastError.isEmpty()) {
      b.append(" error=\"").append(in.lastError).append('"');
    }
    err.println(b);
  }

  private static Object time(long t) {
    return t <= 0 ? null : Ids.time(t);
  }

  static String statusJson(com.licsrv.client.Session.Snapshot in, String node) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("state", in.state.wireName());
    m.put("reason", in.reasonName());
    m.put("detail", in.detail);
    m.put("features", in.features);
    m.put("expires", in.lastValid == 0 ? null : in.expires == 0 ? "never" : Ids.time(in.expires));
    m.put("grace_until", time(in.graceUntil));
    m.put("last_valid", time(in.lastValid));
    m.put("last_error", in.lastError);
    m.put("server", in.server);
    m.put("checked_at", time(in.checkedAt));
    m.put("next_check", time(in.nextCheck));
    m.put("heartbeat", in.heartbeat);
    m.put("grace", in.grace);
    m.put("node", node);
    m.put("revocations_seq", in.revocationsSeq);
    return Json.write(m);
  }

  private static final String STATUS_HELP =
      "usage: java -jar liblic.jar status [--state DIR] [--trust PUB.pem]... [--json]\n"
      + "         [--domain D --port P --node N [--license ID | --account ID] [--app A]\n"
      + "         [--version V]]\n\n"
      + "Re-checks the signed state a running agent keeps in STATE/session.state: the last\n"
      + "valid verdict and its chain against the trust store, its node and terms, and its\n"
      + "grace against this clock. status.json is never read: it is not signed, and a\n"
      + "hand-written one makes nobody licensed (docs/integration.md). Exit 0 when\n"
      + "licensed or in grace, 1 otherwise (also when there is no session state).\n\n"
      + "  --state DIR     state directory (default $XDG_STATE_HOME/licctl)\n"
      + "  --trust FILE    trusted root public key (repeatable; replaces the built-in store)\n"
      + "  --json          print the status document (the fields of status.json)\n"
      + "  --domain ...    the agent's options, when its state file does not record them\n";

  int status(String[] args) throws Usage, Failure {
    Opts o = Opts.parse(args, Set.of("state", "trust", "domain", "port", "node", "license",
        "account", "app", "version"), Set.of("json"));
    if (o.help) {
      out.print(STATUS_HELP);
      return OK;
    }
    if (!o.operands.isEmpty()) {
      throw new Usage("no arguments expected");
    }
    Path dir = stateDir(o.one("state"));
    TrustStore t = trust(o);
    Optional<Verifier> q = Optional.empty();
    if (o.one("domain").isPresent() || o.one("node").isPresent() || o.one("port").isPresent()) {
      Verifier.Builder b = Verifier.newBuilder().trust(t);
      if (o.one("domain").isEmpty() || o.one("port").isEmpty() || o.one("node").isEmpty()) {
        throw new Usage("give --domain, --port and --node together");
      }
      try {
        b.domain(o.one("domain").get()).port(parseInt("--port", o.one("port").get(), 1, 65535))
            .node(o.one("node").get());
        o.one("app").ifPresent(b::app);
        o.one("version").ifPresent(b::version);
        if (o.one("license").isPresent()) {
          b.license(Ids.parse(o.one("license").get()));
        }
        if (o.one("account").isPresent()) {
          b.account(Ids.parse(o.one("account").get()), "", projectId(dir));
        }
      } catch (IllegalArgumentException | FormatException e) {
        throw new Usage("invalid argument: " + e.getMessage());
      }
      q = Optional.of(b.build());
    }
    com.licsrv.client.Session.Snapshot in;
    try {
      in = com.licsrv.client.Session.readState(dir, t, q, Clock.systemUTC());
    } catch (java.nio.file.NoSuchFileException e) {
      throw new Failure(FAIL, dir.resolve(com.licsrv.client.Session.FILE).toString(),
          "no session state, so not licensed (is the agent running with this --state?)");
    } catch (IOException e) {
      throw new Failure(FAIL, dir.toString(), "input/output error: " + e.getMessage());
    }
    boolean ok = in.state != com.licsrv.client.Session.State.UNLICENSED;
    if (o.flag("json")) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("state", in.state.wireName());
      m.put("reason", in.reasonName());
      m.put("detail", in.detail);
      m.put("features", in.features);
      m.put("expires", in.lastValid == 0 ? null : in.expires == 0 ? "never" : Ids.time(in.expires));
      m.put("grace_until", time(in.graceUntil));
      m.put("last_valid", time(in.lastValid));
      m.put("last_error", in.lastError);
      m.put("server", in.server);
      m.put("heartbeat", in.heartbeat);
      m.put("grace", in.grace);
      m.put("revocations_seq", in.revocationsSeq);
      m.put("checked", "signed state: " + com.licsrv.client.Session.FILE);
      out.println(Json.write(m));
    } else {
      line("state:", in.state.wireName() + " (" + in.reasonName() + ")");
      line("detail:", in.detail);
      line("server:", in.server);
      if (!in.features.isEmpty()) {
        out.println(String.format("%-12s %s", "features:", String.join(", ", in.features)));
      }
      line("expires:", in.lastValid == 0 ? "" : in.expires == 0 ? "never" : Ids.time(in.expires));
      line("last valid:", in.lastValid == 0 ? "" : Ids.time(in.lastValid));
      line("grace until:", in.graceUntil == 0 ? "" : Ids.time(in.graceUntil));
      line("last error:", in.lastError);
      line("checked:", "the signed verdict in " + dir.resolve(com.licsrv.client.Session.FILE)
          + " (status.json is not trusted)");
    }
    return ok ? OK : FAIL;
  }

  private void line(String label, String v) {
    if (v != null && !v.isEmpty()) {
      out.println(String.format("%-12s %s", label, v));
    }
  }
}
