package com.licsrv.client.internal;

import com.licsrv.client.FormatException;
import com.licsrv.client.License;
import com.licsrv.client.LocalCheck;
import com.licsrv.client.Status;
import com.licsrv.client.Tls;
import com.licsrv.client.TrustStore;
import com.licsrv.client.Verdict;
import com.licsrv.client.Verifier;
import com.licsrv.client.VerifyException;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * {@code java -jar liblic.jar verify|check|…}: the command line of licctl, on the Java
 * library (same options, output, --json and exit codes: 0 valid, 1 not, 2 usage).
 */
public final class Cli {
  static final String TOOL = "liblic";
  static final int OK = 0;
  static final int FAIL = 1;
  static final int USAGE = 2;

  private final PrintStream out;
  private final PrintStream err;

  Cli(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  public static void main(String[] args) {
    System.exit(new Cli(System.out, System.err).run(args));
  }

  /** A usage error: exit 2. */
  static final class Usage extends Exception {
    private static final long serialVersionUID = 1L;

    Usage(String m) {
      super(m);
    }
  }

  /** A failure with its line: exit 1 (or 2). */
  static final class Failure extends Exception {
    private static final long serialVersionUID = 1L;
    final int code;
    final String what;

    Failure(int code, String what, String why) {
      super(why);
      this.code = code;
      this.what = what;
    }
  }

  private static final String HELP = "usage: java -jar liblic.jar COMMAND [OPTIONS]\n\n"
      + "The licsrv client on the JDK alone: the same commands, options, output and exit\n"
      + "codes as licctl (docs/integration.md). Commands:\n"
      + "  activation  show the designer activation and check it holds here\n"
      + "  agent       run the license session: heartbeat, grace, status.json\n"
      + "  check       check a local-mode license on this machine (offline)\n"
      + "  status      re-check the session's signed state; exit 0 when licensed or in grace\n"
      + "  verify      ask a license server for a signed verdict and check it\n\n"
      + "'java -jar liblic.jar COMMAND --help' describes each one.\n";

  int run(String[] args) {
    if (args.length == 0) {
      err.print(HELP);
      return USAGE;
    }
    String cmd = args[0];
    String[] rest = java.util.Arrays.copyOfRange(args, 1, args.length);
    try {
      switch (cmd) {
        case "--help": case "-h": case "help":
          out.print(HELP);
          return OK;
        case "--version":
          out.println(TOOL + " (licsrv Java client) " + version());
          return OK;
        case "verify": return verify(rest);
        case "check": return check(rest);
        case "activation": return activation(rest);
        case "agent": return new SessionCli(out, err).agent(rest);
        case "status": return new SessionCli(out, err).status(rest);
        default:
          throw new Usage("unknown command '" + cmd + "'");
      }
    } catch (Usage u) {
      err.println(TOOL + ": error: " + (isCommand(cmd) ? cmd + ": " : "") + u.getMessage()
          + " (see '" + TOOL + " " + (isCommand(cmd) ? cmd + " " : "") + "--help')");
      return USAGE;
    } catch (Failure f) {
      err.println(TOOL + ": error: " + f.what + ": " + oneLine(f.getMessage()));
      return f.code;
    }
  }

  private static boolean isCommand(String c) {
    return Set.of("verify", "check", "activation", "agent", "status").contains(c);
  }

  static String oneLine(String s) {
    return s == null ? "" : s.replace('\n', ' ').replace('\r', ' ');
  }

  private static String version() {
    String v = Cli.class.getPackage().getImplementationVersion();
    return v != null ? v : "dev";
  }

  /** getopt_long-like parsing: --name VALUE, --name=VALUE, flags; the rest are operands. */
  static final class Opts {
    final Map<String, List<String>> values = new LinkedHashMap<>();
    final List<String> operands = new ArrayList<>();
    boolean help;

    static Opts parse(String[] args, Set<String> withValue, Set<String> flags) throws Usage {
      Opts o = new Opts();
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        if (a.equals("--")) {
          for (i++; i < args.length; i++) {
            o.operands.add(args[i]);
          }
          break;
        }
        if (a.equals("-h") || a.equals("--help")) {
          o.help = true;
          continue;
        }
        if (!a.startsWith("-") || a.equals("-")) {
          o.operands.add(a);
          continue;
        }
        if (!a.startsWith("--")) {
          throw new Usage("unknown option '" + a + "'");
        }
        int eq = a.indexOf('=');
        String name = a.substring(2, eq < 0 ? a.length() : eq);
        if (flags.contains(name)) {
          if (eq >= 0) {
            throw new Usage("'--" + name + "' takes no value");
          }
          o.values.computeIfAbsent(name, k -> new ArrayList<>()).add("");
        } else if (withValue.contains(name)) {
          String v;
          if (eq >= 0) {
            v = a.substring(eq + 1);
          } else if (i + 1 < args.length) {
            v = args[++i];
          } else {
            throw new Usage("'--" + name + "' needs a value");
          }
          o.values.computeIfAbsent(name, k -> new ArrayList<>()).add(v);
        } else {
          throw new Usage("unknown option '" + (eq < 0 ? a : a.substring(0, eq)) + "'");
        }
      }
      return o;
    }

    Optional<String> one(String name) {
      List<String> v = values.get(name);
      return v == null ? Optional.empty() : Optional.of(v.get(v.size() - 1));
    }

    List<String> all(String name) {
      return values.getOrDefault(name, List.of());
    }

    boolean flag(String name) {
      return values.containsKey(name);
    }
  }

  static long parseInt(String opt, String s, long min, long max) throws Usage {
    long v;
    try {
      if (!s.matches("[0-9]+|-[0-9]+")) {
        throw new NumberFormatException();
      }
      v = Long.parseLong(s);
    } catch (NumberFormatException e) {
      throw new Usage(opt + ": '" + cut(s) + "' is not a number");
    }
    if (v < min || v > max) {
      throw new Usage(opt + ": " + v + " is outside " + min + ".." + max);
    }
    return v;
  }

  static String cut(String s) {
    return s.length() > 40 ? s.substring(0, 40) : s;
  }

  public static String reasonText(VerifyException.Reason r) {
    switch (r) {
      case FORMAT: return "malformed data";
      case TYPE: return "unexpected object type";
      case UNTRUSTED: return "signed by a key that is not trusted";
      case SIGNATURE: return "signature does not verify";
      case MISMATCHED: return "response does not match the request";
      case EXPIRED: return "expired";
      case INVALID: return "invalid argument";
      default: return "input/output error";
    }
  }

  static Failure failure(String what, VerifyException e) {
    return new Failure(e.reason() == VerifyException.Reason.INVALID ? USAGE : FAIL, what,
        reasonText(e.reason()) + ": " + e.getMessage());
  }

  static TrustStore trust(Opts o) throws Failure {
    if (o.all("trust").isEmpty()) {
      return TrustStore.builtIn();
    }
    List<Path> files = new ArrayList<>();
    for (String t : o.all("trust")) {
      files.add(Path.of(t));
    }
    try {
      return TrustStore.fromFiles(files);
    } catch (IOException | FormatException e) {
      throw new Failure(FAIL, "--trust", e.getMessage());
    }
  }

  /** A secret file: refused when group or others may read it; one line. */
  static String secretFile(String opt, String path, int max) throws Failure {
    Path p = Path.of(path);
    try {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(p);
      if (perms.stream().anyMatch(x -> x.name().startsWith("GROUP") || x.name().startsWith("OTHERS"))) {
        int mode = 0;
        for (PosixFilePermission x : perms) {
          mode |= 1 << (8 - x.ordinal());
        }
        throw new Failure(FAIL, opt, "file is readable by group or others: " + path + " has mode "
            + String.format("%03o", mode) + ", expected 0600 (chmod 600 " + path + ")");
      }
      if (Files.size(p) > max + 2) {
        throw new Failure(FAIL, path, "value exceeds a limit: at most " + max + " bytes");
      }
      String s = new String(Files.readAllBytes(p), StandardCharsets.UTF_8);
      if (s.endsWith("\n")) {
        s = s.substring(0, s.length() - 1);
      }
      if (s.endsWith("\r")) {
        s = s.substring(0, s.length() - 1);
      }
      if (s.isEmpty() || s.length() > max || s.indexOf('\n') >= 0 || s.indexOf('\0') >= 0) {
        throw new Failure(FAIL, path, "malformed data: one line of 1.." + max + " bytes");
      }
      return s;
    } catch (IOException e) {
      throw new Failure(FAIL, opt, "input/output error: " + path + ": " + e.getMessage());
    }
  }

  static Path stateDir(Optional<String> opt) {
    if (opt.isPresent()) {
      return Path.of(opt.get());
    }
    String x = System.getenv("XDG_STATE_HOME");
    if (x != null && x.startsWith("/")) {
      return Path.of(x, "licctl");
    }
    String home = System.getenv("HOME");
    return Path.of(home != null ? home : ".", ".local/state/licctl");
  }

  /** The state directory's project id (made once, shared with licctl). */
  static UUID projectId(Path dir) throws Failure {
    Path p = dir.resolve("project_id");
    try {
      Files.createDirectories(dir);
      if (Files.exists(p)) {
        String s = Files.readString(p, StandardCharsets.US_ASCII).strip();
        return Ids.parse(s);
      }
      UUID id = Ids.uuid(randomBytes(16));
      Path tmp = Files.createTempFile(dir, ".project_id", ".tmp");
      Files.writeString(tmp, id + "\n", StandardCharsets.US_ASCII);
      try {
        Files.createLink(p, tmp);
      } catch (java.nio.file.FileAlreadyExistsException e) {
        Files.delete(tmp);
        return projectId(dir);
      }
      Files.delete(tmp);
      return id;
    } catch (IOException e) {
      throw new Failure(FAIL, p.toString(), "input/output error: " + e.getMessage());
    } catch (FormatException e) {
      throw new Failure(FAIL, p.toString(), "malformed data: " + e.getMessage());
    }
  }

  static byte[] randomBytes(int n) {
    byte[] b = new byte[n];
    new java.security.SecureRandom().nextBytes(b);
    return b;
  }

  private static final String VERIFY_HELP =
      "usage: java -jar liblic.jar verify URL --domain D --port P --node N [--license ID |\n"
      + "         --account ID --token-file F] [--app A] [--version V] [--secret-file F]\n"
      + "         [--trust PUB.pem]... [--cacert FILE | --pin PIN...] [--timeout MS] [--json]\n\n"
      + "Asks the license server at URL (https://HOST:PORT, checked against the system\n"
      + "store, --cacert or --pin; or http://) for a signed verdict and checks the whole\n"
      + "chain inside this JVM, as licctl verify does (docs/integration.md). Prints the\n"
      + "verdict; exit 0 only on a valid one (1 on a denial or any failed check).\n\n"
      + "  --domain D      the access domain name this report server answers on\n"
      + "  --port P        its port\n"
      + "  --node N        this report-server instance id (holds a seat)\n"
      + "  --license ID    license id (UUID); optional when the server holds one license\n"
      + "  --account ID    public mode: the account (UUID); the project id is the state\n"
      + "                  directory's, the chain is root -> certificate -> verdict\n"
      + "  --token-file F  public mode: the account's token (a 0600 file, never printed)\n"
      + "  --app A         application name\n"
      + "  --version V     product version, e.g. 11.0.18 (its major number is checked)\n"
      + "  --secret-file F the server's node_secret (one line, file mode 0600)\n"
      + "  --trust FILE    trusted root public key (repeatable; replaces the built-in store)\n"
      + "  --cacert FILE   PEM CA certificate(s) to check an https:// server against\n"
      + "                  (default: the JDK's store)\n"
      + "  --pin PIN       sha256/BASE64 of the server key's SPKI (repeatable): accept a\n"
      + "                  server whose key matches (its host name is still checked)\n"
      + "  --timeout MS    whole exchange: connect, TLS handshake, answer (default 10000)\n"
      + "  --json          print the verdict as JSON\n"
      + "  --state DIR     the state directory (public mode: its project id)\n";

  static final Set<String> VERIFY_OPTS = Set.of("domain", "port", "node", "license", "app",
      "version", "trust", "timeout", "state", "cacert", "pin", "account", "token-file",
      "secret-file");

  /** Builds a Verifier from licctl verify's options (shared with the agent). */
  static Verifier verifier(String cmd, Opts o) throws Usage, Failure {
    Optional<String> domain = o.one("domain");
    Optional<String> port = o.one("port");
    Optional<String> node = o.one("node");
    String missing = domain.isEmpty() ? "--domain" : port.isEmpty() ? "--port"
        : node.isEmpty() ? "--node" : null;
    if (missing != null) {
      throw new Usage(missing + " is required");
    }
    Verifier.Builder b = Verifier.newBuilder();
    b.port(parseInt("--port", port.get(), 1, 65535));
    try {
      b.domain(domain.get());
    } catch (IllegalArgumentException e) {
      throw new Usage("--domain: invalid argument: " + e.getMessage());
    }
    try {
      b.node(node.get());
      o.one("app").ifPresent(b::app);
      o.one("version").ifPresent(b::version);
    } catch (IllegalArgumentException e) {
      throw new Usage("invalid argument: " + e.getMessage());
    }
    if (o.one("license").isPresent()) {
      try {
        b.license(Ids.parse(o.one("license").get()));
      } catch (FormatException e) {
        throw new Usage("--license: '" + cut(o.one("license").get()) + "' is not a UUID");
      }
    }
    if (o.one("timeout").isPresent()) {
      b.timeout(Duration.ofMillis(parseInt("--timeout", o.one("timeout").get(), 1, 600000)));
    }
    List<String> pins = o.all("pin");
    for (String p : pins) {
      try {
        Tls.pin(p);
      } catch (IllegalArgumentException e) {
        throw new Usage("--pin: " + e.getMessage());
      }
    }
    if (o.one("cacert").isPresent() && !pins.isEmpty()) {
      throw new Usage("give --cacert or --pin, not both");
    }
    if (o.one("account").isPresent() && o.one("license").isPresent()) {
      throw new Usage("give --license or --account, not both");
    }
    if (o.one("account").isEmpty() && o.one("token-file").isPresent()) {
      throw new Usage("--token-file goes with --account");
    }
    b.trust(trust(o));
    try {
      if (o.one("cacert").isPresent()) {
        b.tls(Tls.caFile(Path.of(o.one("cacert").get())));
      } else if (!pins.isEmpty()) {
        b.tls(Tls.pins(pins));
      }
    } catch (IOException | GeneralSecurityException e) {
      throw new Failure(FAIL, "--cacert", e.getMessage());
    }
    if (o.one("account").isPresent()) {
      UUID acc;
      try {
        acc = Ids.parse(o.one("account").get());
      } catch (FormatException e) {
        throw new Usage("--account: '" + cut(o.one("account").get()) + "' is not a UUID");
      }
      if (o.one("token-file").isEmpty()) {
        throw new Usage("--token-file is required with --account");
      }
      String tf = o.one("token-file").get();
      String token = secretFile("--token-file", tf, 1024);
      int cr = token.indexOf('\r');
      token = cr >= 0 ? token.substring(0, cr) : token;
      if (!token.matches("lsk_[A-Za-z0-9_-]{43}")) {
        throw new Failure(FAIL, "--token-file", tf + " does not hold a token (lsk_...)");
      }
      b.account(acc, token, projectId(stateDir(o.one("state"))));
    }
    if (o.one("secret-file").isPresent()) {
      b.secret(secretFile("--secret-file", o.one("secret-file").get(), 256));
    }
    return b.build();
  }

  static URI url(String s) throws Usage {
    try {
      URI u = new URI(s);
      if (u.getScheme() == null || u.getHost() == null) {
        throw new java.net.URISyntaxException(s, "no scheme or host");
      }
      return u;
    } catch (java.net.URISyntaxException e) {
      throw new Usage("'" + cut(s) + "' is not a URL (https://HOST:PORT)");
    }
  }

  int verify(String[] args) throws Usage, Failure {
    Opts o = Opts.parse(args, VERIFY_OPTS, Set.of("json"));
    if (o.help) {
      out.print(VERIFY_HELP);
      return OK;
    }
    if (o.operands.size() != 1) {
      throw new Usage("give exactly one URL");
    }
    URI url = url(o.operands.get(0));
    Verifier v = verifier("verify", o);
    Verdict vd;
    try {
      vd = v.verify(url);
    } catch (VerifyException e) {
      throw failure(o.operands.get(0), e);
    }
    printVerdict(vd, o.one("account").isPresent(), o.flag("json"));
    return vd.status() == Status.VALID ? OK : FAIL;
  }

  void printVerdict(Verdict vd, boolean pub, boolean json) {
    Optional<UUID> named = pub ? vd.account() : vd.license();
    String ex = vd.expires() == 0 ? "never" : Ids.date(vd.expires());
    if (json) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("status", vd.status().wireName());
      m.put("reason", vd.reason());
      m.put(pub ? "account" : "license", named.map(UUID::toString).orElse(null));
      m.put("signed", vd.signed());
      m.put("node", vd.node());
      m.put("time", vd.time());
      m.put("expires", ex);
      m.put("features", vd.features());
      m.put("domains", vd.domains());
      m.put("heartbeat", vd.heartbeat());
      m.put("grace", vd.grace());
      m.put("seats", Map.of("used", vd.seatsUsed(), "max", vd.seatsMax()));
      out.println(Json.write(m));
    } else if (vd.status() == Status.VALID) {
      out.println("valid: " + (pub ? "account " : "license ") + named.map(UUID::toString).orElse("")
          + ", node " + vd.node() + ", " + (pub ? "registrations " : "seats ") + vd.seatsUsed()
          + "/" + vd.seatsMax() + ", " + Ids.until(vd.expires()) + ", next check in "
          + vd.heartbeat() + " s");
    } else {
      out.println("denied: " + vd.status().wireName() + ": " + vd.reason()
          + (vd.signed() ? "" : " (unsigned: the server sent no license to check it with)"));
    }
  }

  private static final String CHECK_HELP =
      "usage: java -jar liblic.jar check LICENSE --domain D --port P [--app A]\n"
      + "         [--version V | --major N] [--trust PUB.pem]... [--revocations F]\n"
      + "         [--state DIR] [--json]\n\n"
      + "Checks a local-mode license offline: its vendor signature (trust store), this\n"
      + "machine (machine code and at least one licensed network adapter), the dates,\n"
      + "the major version, the domain, port and application. Exit 0 only when valid.\n"
      + "The latest time a check saw is kept in the state directory: a clock set back\n"
      + "more than an hour below it reads clock_rollback (docs/integration.md).\n"
      + "A license on the vendor's revocation list reads revoked: the newest list seen\n"
      + "(--revocations, or kept in the state directory from an earlier check) counts,\n"
      + "and an older list never replaces a newer one (docs/revocation.md).\n\n"
      + "  --domain D      the access domain name the report server answers on\n"
      + "  --port P        its port\n"
      + "  --app A         application name (required when the license restricts them)\n"
      + "  --version V     product version (11.0.18): its leading number is the major\n"
      + "  --major N       product major version (required when the license names one)\n"
      + "  --trust FILE    trusted root public key (repeatable; replaces the built-in store)\n"
      + "  --revocations F a signed revocation list (shipped beside the product); kept\n"
      + "                  in the state directory when newer than the one there\n"
      + "  --json          print the result as JSON\n"
      + "  --state DIR     state directory, where the clock's high-water mark and the\n"
      + "                  newest revocation list are kept\n"
      + "                  (default $XDG_STATE_HOME/licctl or ~/.local/state/licctl)\n";

  int check(String[] args) throws Usage, Failure {
    Opts o = Opts.parse(args, Set.of("domain", "port", "app", "major", "version", "trust", "state",
        "revocations"), Set.of("json"));
    if (o.help) {
      out.print(CHECK_HELP);
      return OK;
    }
    if (o.operands.size() != 1) {
      throw new Usage("give exactly one LICENSE file");
    }
    if (o.one("domain").isEmpty() || o.one("port").isEmpty()) {
      throw new Usage((o.one("domain").isEmpty() ? "--domain" : "--port") + " is required");
    }
    String domain = o.one("domain").get();
    Optional<String> dp = Terms.domainProblem(domain, false);
    if (dp.isPresent()) {
      throw new Usage("--domain: invalid argument: " + dp.get());
    }
    long port = parseInt("--port", o.one("port").get(), 1, 65535);
    if (o.one("major").isPresent() && o.one("version").isPresent()) {
      throw new Usage("give --version or --major, not both");
    }
    long major = -1;
    if (o.one("major").isPresent()) {
      major = parseInt("--major", o.one("major").get(), 0, Integer.MAX_VALUE);
    }
    if (o.one("version").isPresent()) {
      major = Terms.major(o.one("version").get());
      if (major < 0) {
        throw new Usage("--version: '" + cut(o.one("version").get())
            + "' does not start with a major version number");
      }
    }
    String path = o.operands.get(0);
    TrustStore t = trust(o);
    License l;
    byte[] file = readFile(path);
    try {
      l = License.read(file, t);
    } catch (VerifyException e) {
      throw failure(path, e);
    }
    if (l.mode() != License.Mode.LOCAL) {
      throw new Failure(FAIL, path, "this is a " + l.mode().name().toLowerCase(java.util.Locale.ROOT)
          + " license: report servers check it with 'licctl verify' against the license server");
    }
    try {
      Machine.read();
    } catch (IOException e) {
      throw new Failure(FAIL, "machine", "cannot read the machine identity: " + e.getMessage());
    }
    Optional<String> revfile = o.one("revocations");
    if (revfile.isPresent()) {
      readFile(revfile.get()); // its errors name the file
    }
    LocalCheck.Result r;
    try {
      r = LocalCheck.check(l, domain, port, o.one("app"),
          major < 0 ? Optional.empty() : Optional.of(Long.toString(major)), Clock.systemUTC(),
          stateDir(o.one("state")), t, revfile.map(Path::of));
    } catch (VerifyException e) {
      throw failure(revfile.orElse("revocations"), e);
    } catch (IOException e) {
      throw new Failure(FAIL, "state", "input/output error: " + e.getMessage());
    }
    String ex = l.expires() == 0 ? "never" : Ids.date(l.expires());
    if (o.flag("json")) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("status", r.status().wireName());
      m.put("reason", r.reason());
      m.put("license", l.id().toString());
      m.put("customer", l.customer());
      m.put("expires", ex);
      m.put("features", l.features());
      out.println(Json.write(m));
    } else if (r.status() == Status.VALID) {
      out.println("valid: license " + l.id() + " for " + l.customer() + ", " + Ids.until(l.expires())
          + ", features:" + (l.features().isEmpty() ? "" : " " + String.join(",", l.features())));
    } else {
      out.println("denied: " + r.status().wireName() + ": " + r.reason());
    }
    return r.status() == Status.VALID ? OK : FAIL;
  }

  static byte[] readFile(String path) throws Failure {
    try {
      Path p = Path.of(path);
      if (Files.size(p) > Armor.MAX_FILE) {
        throw new Failure(FAIL, path, "value exceeds a limit: larger than " + Armor.MAX_FILE
            + " bytes");
      }
      return Files.readAllBytes(p);
    } catch (java.nio.file.NoSuchFileException e) {
      throw new Failure(FAIL, path, "not found: " + path + ": No such file or directory");
    } catch (IOException e) {
      throw new Failure(FAIL, path, "input/output error: " + path + ": " + e.getMessage());
    }
  }


  private static final String ACTIVATION_HELP =
      "usage: java -jar liblic.jar activation [--product ID] [--state DIR] [--trust PUB.pem]...\n"
      + "         [--revocations F] [--json]\n\n"
      + "Shows the local designer activation and checks that it holds on this machine:\n"
      + "the code is re-verified (vendor signature, product, expiry) and the machine must\n"
      + "have the same machine code and at least one of the recorded network adapters.\n"
      + "Exit 0 only when the activation holds here (docs/activation.md).\n"
      + "An activation on the vendor's revocation list reads revoked: the newest list\n"
      + "seen (--revocations, or kept in the state directory from an earlier check)\n"
      + "counts, and an older list never replaces a newer one (docs/revocation.md).\n\n"
      + "  --product ID    require this product id (default: any)\n"
      + "  --state DIR     state directory (default $XDG_STATE_HOME/licctl)\n"
      + "  --trust FILE    trusted root public key (repeatable; replaces the built-in store)\n"
      + "  --revocations F a signed revocation list (shipped beside the product); kept\n"
      + "                  in the state directory when newer than the one there\n"
      + "  --json          print serial, product, edition, expires, activated, status\n";

  int activation(String[] args) throws Usage, Failure {
    Opts o = Opts.parse(args, Set.of("product", "state", "trust", "revocations"), Set.of("json"));
    if (o.help) {
      out.print(ACTIVATION_HELP);
      return OK;
    }
    if (!o.operands.isEmpty()) {
      throw new Usage("unexpected argument '" + cut(o.operands.get(0)) + "'");
    }
    int product = -1;
    if (o.one("product").isPresent()) {
      product = (int) parseInt("--product", o.one("product").get(), 0, 255);
    }
    Optional<String> revfile = o.one("revocations");
    if (revfile.isPresent()) {
      readFile(revfile.get()); // its errors name the file
    }
    com.licsrv.client.Activation.Result r;
    try {
      r = com.licsrv.client.Activation.check(stateDir(o.one("state")), trust(o), product,
          Clock.systemUTC(), revfile.map(Path::of));
    } catch (VerifyException e) {
      throw failure(revfile.orElse("revocations"), e);
    } catch (IOException e) {
      throw new Failure(FAIL, "state", "input/output error: " + e.getMessage());
    }
    boolean ok = r.outcome() == com.licsrv.client.Activation.Outcome.VALID;
    if (o.flag("json")) {
      Map<String, Object> m = new LinkedHashMap<>();
      if (r.info().isPresent()) {
        com.licsrv.client.Activation.Info i = r.info().get();
        m.put("serial", i.serial);
        m.put("product", i.product);
        m.put("edition", i.edition);
        m.put("expires", i.expires == 0 ? "never" : Ids.date(i.expires));
        m.put("activated_at", Ids.time(i.activated));
        m.put("activated", i.activated);
        m.put("machine_code", i.machineCode);
        m.put("claimed_online", i.claimedOnline);
      }
      m.put("status", r.outcome().wireName());
      if (!ok) {
        m.put("reason", r.reason());
      }
      out.println(Json.write(m));
      return ok ? OK : FAIL;
    }
    if (!ok) {
      throw new Failure(FAIL, "activation",
          r.outcome() == com.licsrv.client.Activation.Outcome.REVOKED ? "revoked: " + r.reason()
              : r.reason());
    }
    com.licsrv.client.Activation.Info i = r.info().get();
    out.println("valid: product " + i.product + ", serial " + i.serial + ", edition " + i.edition
        + ", expires " + (i.expires == 0 ? "never" : Ids.date(i.expires)) + ", activated "
        + Ids.time(i.activated) + " on this machine (" + i.machineCode + ")");
    return OK;
  }
}
