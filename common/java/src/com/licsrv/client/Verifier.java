package com.licsrv.client;

import com.licsrv.client.VerifyException.Reason;
import com.licsrv.client.internal.Envelope;
import com.licsrv.client.internal.Ids;
import com.licsrv.client.internal.Mp;
import com.licsrv.client.internal.MpWriter;
import com.licsrv.client.internal.Terms;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;

/**
 * One verify exchange with a license server, the whole chain checked inside this JVM.
 *
 * <p>Private mode: root key → license (private mode, its node key) → verdict. Public mode:
 * root key → online-key certificate → verdict. The verdict must answer this exchange's fresh
 * nonce, name this node and the license (or a renewal of it) or account, carry a time within
 * 5 minutes of ours, and a {@code valid} verdict must agree with the signed terms for our
 * domain, port, app and version. Built objects are immutable and thread-safe; a
 * {@link Builder} is not.
 *
 * <pre>{@code
 * Verifier verifier = Verifier.newBuilder()
 *     .trust(TrustStore.builtIn())
 *     .tls(Tls.caFile(Path.of("/etc/reports/licsrv-ca.pem")))
 *     .domain("reports.example.com").port(443).node("report-1")
 *     .version("11.0.18")
 *     .build();
 * Verdict v = verifier.verify(URI.create("https://licsrv.example.com:7470"));
 * boolean licensed = v.status() == Status.VALID;
 * }</pre>
 */
public final class Verifier {
  /** How far the server's clock may differ from ours, in seconds. */
  public static final long MAX_SKEW = 300;
  static final int MAX_RESPONSE = 256 * 1024;
  private static final SecureRandom RANDOM = new SecureRandom();

  final TrustStore trust; // Session keeps revocation lists under it
  private final Tls tls;
  private final String domain;
  private final long port;
  private final String node;
  private final String app;
  private final String version;
  private final UUID license;
  private final UUID account;
  private final String token;
  private final UUID projectId;
  private final String secret;
  private final Duration timeout;
  private final Clock clock;
  private final Transport transport;

  /** One POST of a MessagePack body, answering the 200 response's body (tests inject fakes). */
  interface Transport {
    byte[] post(URI uri, byte[] body) throws VerifyException;
  }

  private Verifier(Builder b) {
    trust = Objects.requireNonNull(b.trust, "trust");
    tls = b.tls;
    domain = Objects.requireNonNull(b.domain, "domain");
    port = b.port;
    node = Objects.requireNonNull(b.node, "node");
    app = b.app;
    version = b.version;
    license = b.license;
    account = b.account;
    token = b.token;
    projectId = b.projectId;
    secret = b.secret;
    timeout = b.timeout;
    clock = b.clock;
    HttpClient.Builder hb = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(timeout).followRedirects(HttpClient.Redirect.NEVER);
    if (tls != null) {
      hb.sslContext(tls.context());
    }
    HttpClient http = hb.build();
    transport = b.transport != null ? b.transport : (uri, req) -> httpPost(http, timeout, uri, req);
  }

  private static byte[] httpPost(HttpClient http, Duration timeout, URI uri, byte[] reqBody)
      throws VerifyException {
    HttpRequest req = HttpRequest.newBuilder(uri).timeout(timeout)
        .header("Content-Type", "application/msgpack").header("Accept", "application/msgpack")
        .POST(HttpRequest.BodyPublishers.ofByteArray(reqBody)).build();
    HttpResponse<java.io.InputStream> resp;
    byte[] body;
    String server = uri.getHost() + ":" + (uri.getPort() > 0 ? uri.getPort()
        : "https".equals(uri.getScheme()) ? 443 : 80);
    try {
      resp = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
      try (java.io.InputStream in = resp.body()) {
        body = in.readNBytes(MAX_RESPONSE + 1);
      }
    } catch (IOException e) {
      throw new VerifyException(Reason.IO, server + ": " + describe(e), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new VerifyException(Reason.IO, server + ": interrupted", e);
    }
    if (body.length > MAX_RESPONSE) {
      throw new VerifyException(Reason.FORMAT, "response larger than " + MAX_RESPONSE + " bytes");
    }
    if (resp.statusCode() != 200) {
      String msg = "";
      try {
        msg = ": " + Mp.parse(body).str("message", 0, 190);
      } catch (FormatException e) {
        msg = "";
      }
      if (resp.statusCode() == 404 || resp.statusCode() == 405) {
        throw new VerifyException(Reason.IO, "no license server's verify API here: it answered HTTP "
            + resp.statusCode() + msg + " to POST /v1/verify (the admin port, or another server?)");
      }
      throw new VerifyException(Reason.IO, "license server answered HTTP " + resp.statusCode() + msg);
    }
    return body;
  }

  /**
   * A new builder (not thread-safe).
   *
   * @return the builder
   */
  public static Builder newBuilder() {
    return new Builder();
  }

  /** The options of a {@link Verifier}; not thread-safe. */
  public static final class Builder {
    private TrustStore trust = TrustStore.builtIn();
    private Tls tls;
    private String domain;
    private long port = -1;
    private String node;
    private String app;
    private String version;
    private UUID license;
    private UUID account;
    private String token;
    private UUID projectId;
    private String secret;
    private Duration timeout = Duration.ofSeconds(10);
    private Clock clock = Clock.systemUTC();
    private Transport transport;

    private Builder() {}

    Builder transport(Transport t) {
      transport = t;
      return this;
    }

    /**
     * The vendor root keys (default: {@link TrustStore#builtIn()}).
     *
     * @param t the store
     * @return this builder
     */
    public Builder trust(TrustStore t) {
      trust = Objects.requireNonNull(t, "trust");
      return this;
    }

    /**
     * How https:// servers are authenticated (default: {@link Tls#system()}).
     *
     * @param t the setting
     * @return this builder
     */
    public Builder tls(Tls t) {
      tls = Objects.requireNonNull(t, "tls");
      return this;
    }

    /**
     * This report server's access domain name.
     *
     * @param d a host name
     * @return this builder
     * @throws IllegalArgumentException when it is not a host name
     */
    public Builder domain(String d) {
      Optional<String> p = Terms.domainProblem(Objects.requireNonNull(d, "domain"), false);
      if (p.isPresent()) {
        throw new IllegalArgumentException(p.get());
      }
      domain = d;
      return this;
    }

    /**
     * This report server's port.
     *
     * @param p 1..65535
     * @return this builder
     * @throws IllegalArgumentException when out of range
     */
    public Builder port(long p) {
      if (p < 1 || p > 65535) {
        throw new IllegalArgumentException("port must be 1..65535");
      }
      port = p;
      return this;
    }

    /**
     * This report-server instance's id (holds a seat).
     *
     * @param n 1..128 bytes of printable text
     * @return this builder
     * @throws IllegalArgumentException when empty, too long or holding control characters
     */
    public Builder node(String n) {
      node = name(n, "node");
      return this;
    }

    /**
     * The application name (required when the license restricts applications).
     *
     * @param a the name
     * @return this builder
     * @throws IllegalArgumentException when malformed
     */
    public Builder app(String a) {
      app = name(a, "app");
      return this;
    }

    /**
     * The product version, e.g. {@code 11.0.18} (its major number is checked).
     *
     * @param v the version
     * @return this builder
     * @throws IllegalArgumentException when malformed
     */
    public Builder version(String v) {
      version = name(v, "version");
      return this;
    }

    /**
     * Private mode: the license id (optional when the server holds one license).
     *
     * @param id the license id
     * @return this builder
     */
    public Builder license(UUID id) {
      license = Objects.requireNonNull(id, "license");
      return this;
    }

    /**
     * Public mode: the account, its token and this install's project id.
     *
     * @param id the account id
     * @param tok the account's token ({@code lsk_…}; never sent over plain HTTP off loopback)
     * @param project this install's project id
     * @return this builder
     */
    public Builder account(UUID id, String tok, UUID project) {
      account = Objects.requireNonNull(id, "account");
      token = Objects.requireNonNull(tok, "token");
      projectId = Objects.requireNonNull(project, "project");
      return this;
    }

    /**
     * The license server's node secret, when its configuration sets one.
     *
     * @param s the secret (1..256 bytes)
     * @return this builder
     */
    public Builder secret(String s) {
      if (s.isEmpty() || s.length() > 256) {
        throw new IllegalArgumentException("a node secret is 1..256 bytes");
      }
      secret = s;
      return this;
    }

    /**
     * The whole exchange's time limit (default 10 s).
     *
     * @param d the limit
     * @return this builder
     */
    public Builder timeout(Duration d) {
      if (d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException("timeout must be positive");
      }
      timeout = d;
      return this;
    }

    /**
     * The clock verdict times are compared with (default: the system's, UTC).
     *
     * @param c the clock
     * @return this builder
     */
    public Builder clock(Clock c) {
      clock = Objects.requireNonNull(c, "clock");
      return this;
    }

    /**
     * Builds the verifier.
     *
     * @return the verifier
     * @throws IllegalStateException when domain, port or node is missing, or both a license
     *     and an account are given
     */
    public Verifier build() {
      if (domain == null || port < 0 || node == null) {
        throw new IllegalStateException("domain, port and node are required");
      }
      if (license != null && account != null) {
        throw new IllegalStateException("give a license or an account, not both");
      }
      return new Verifier(this);
    }

    private static String name(String s, String what) {
      Objects.requireNonNull(s, what);
      int n = s.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
      if (n == 0 || n > 128) {
        throw new IllegalArgumentException(what + " must be 1..128 bytes");
      }
      for (int i = 0; i < s.length(); i++) {
        if (s.charAt(i) < 0x20 || s.charAt(i) == 0x7f) {
          throw new IllegalArgumentException(what + " holds a control character");
        }
      }
      return s;
    }
  }

  /** What one exchange checked (kept by a session to check again later). */
  static final class Checked {
    final Verdict verdict;
    final Optional<License> license;
    final byte[] body;
    final byte[] nonce;
    final long checkedAt;
    Optional<byte[]> revocations = Optional.empty();

    Checked(Verdict verdict, License license, byte[] body, byte[] nonce, long checkedAt) {
      this.verdict = verdict;
      this.license = Optional.ofNullable(license);
      this.body = body;
      this.nonce = nonce;
      this.checkedAt = checkedAt;
    }
  }

  /** The options as a map for a session's state file (no secret: no token, no node secret). */
  java.util.Map<String, Object> question() {
    java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
    m.put("domain", domain);
    m.put("port", port);
    m.put("node", node);
    if (app != null) {
      m.put("app", app);
    }
    if (version != null) {
      m.put("version", version);
    }
    if (license != null) {
      m.put("license", license);
    }
    if (account != null) {
      m.put("account", account);
      m.put("project_id", projectId);
    }
    return m;
  }

  boolean publicMode() {
    return account != null;
  }

  String node() {
    return node;
  }

  /**
   * Asks the server for a signed verdict and checks it.
   *
   * @param server {@code https://HOST:PORT} (or {@code http://}); {@code /v1/verify} is added
   * @return the checked verdict: valid or a trustworthy denial
   * @throws VerifyException when no trustworthy verdict was obtained (network, HTTP error,
   *     forged, replayed or mismatched answer)
   */
  public Verdict verify(URI server) throws VerifyException {
    return exchange(server).verdict;
  }

  Checked exchange(URI server) throws VerifyException {
    return exchange(server, 0);
  }

  /** One exchange; revocationsSeq: the revocation list the caller keeps (0 = none, not sent). */
  Checked exchange(URI server, long revocationsSeq) throws VerifyException {
    String scheme = Objects.requireNonNull(server, "server").getScheme();
    if (scheme == null || !(scheme.equals("https") || scheme.equals("http")) || server.getHost() == null) {
      throw new VerifyException(Reason.INVALID, "a server URL is https://HOST:PORT or http://HOST:PORT");
    }
    if (account != null && !scheme.equals("https") && !loopback(server.getHost())) {
      throw new VerifyException(Reason.INVALID, "refusing to send the account token over plain "
          + "HTTP to a host other than loopback (use https://, or a local TLS proxy)");
    }
    byte[] nonce = new byte[32];
    RANDOM.nextBytes(nonce);
    byte[] body = transport.post(server.resolve("/v1/verify"), request(nonce, revocationsSeq));
    return check(nonce, clock.instant().getEpochSecond(), body);
  }

  /** One line for a failed exchange, like liblic's ("Connection refused", "timed out"). */
  static String describe(IOException e) {
    if (e instanceof java.net.http.HttpTimeoutException) {
      return "timed out";
    }
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof java.net.ConnectException) {
        return t.getMessage() != null ? t.getMessage() : "Connection refused";
      }
      if (t instanceof javax.net.ssl.SSLException || t instanceof java.security.cert.CertificateException) {
        return "TLS: " + t.getMessage();
      }
    }
    Throwable t = e;
    while (t.getCause() != null && t.getMessage() == null) {
      t = t.getCause();
    }
    return t.getMessage() != null ? t.getMessage() : t.getClass().getSimpleName();
  }

  static boolean loopback(String host) {
    String h = host.startsWith("[") ? host.substring(1, host.length() - 1) : host;
    if (h.equals("localhost") || h.equals("::1")) {
      return true;
    }
    if (!h.matches("\\d{1,3}(\\.\\d{1,3}){3}")) {
      return false;
    }
    try {
      return InetAddress.getByName(h).isLoopbackAddress();
    } catch (IOException e) {
      return false;
    }
  }

  byte[] request(byte[] nonce) {
    return request(nonce, 0);
  }

  byte[] request(byte[] nonce, long revocationsSeq) {
    boolean pub = account != null;
    boolean rseq = !pub && revocationsSeq > 0;
    int n = 4 + (!pub && license != null ? 1 : 0) + (app != null ? 1 : 0) + (version != null ? 1 : 0)
        + (pub ? 3 : 0) + (!pub && secret != null ? 1 : 0) + (rseq ? 1 : 0);
    MpWriter w = new MpWriter().map(n);
    w.str("nonce").bin(nonce).str("domain").str(domain).str("port").integer(port)
        .str("node").str(node);
    if (pub) {
      w.str("account").bin(Ids.bytes(account)).str("token").str(token)
          .str("project_id").bin(Ids.bytes(projectId));
    } else if (license != null) {
      w.str("license").bin(Ids.bytes(license));
    }
    if (app != null) {
      w.str("app").str(app);
    }
    if (version != null) {
      w.str("version").str(version);
    }
    if (!pub && secret != null) {
      w.str("secret").str(secret);
    }
    if (rseq) {
      w.str("revocations_seq").integer(revocationsSeq);
    }
    return w.toBytes();
  }

  /** The checks on a response body {verdict, chain}, for this verifier's question. */
  Checked check(byte[] nonce, long now, byte[] body) throws VerifyException {
    try {
      Checked c = checkOrThrow(nonce, now, body);
      // A newer revocation list beside the answer (private mode): unverified bytes, verified
      // by whoever keeps them (Session, through Revocations).
      Mp.Obj doc = Mp.parse(body);
      if (doc.has("revocations")) {
        c.revocations = Optional.of(doc.bin("revocations", 1, Envelope.MAX_ENVELOPE));
      }
      return c;
    } catch (FormatException e) {
      throw Envelope.asVerify(e);
    }
  }

  /** The last license envelope this verifier checked, and what it checked out as. */
  private static final class Known {
    final byte[] envelope;
    final License license;

    Known(byte[] envelope, License license) {
      this.envelope = envelope;
      this.license = license;
    }
  }

  private volatile Known known;

  /**
   * root -> license; the same envelope bytes as last time (every heartbeat, from the same
   * server) checked once: its signature, trust store and body cannot have changed.
   */
  private License license(byte[] lenv) throws VerifyException {
    Known k = known;
    if (k != null && Arrays.equals(k.envelope, lenv)) {
      return k.license;
    }
    License l = License.open(lenv, trust);
    known = new Known(lenv.clone(), l);
    return l;
  }

  private static VerifyException mismatch(String m) {
    return new VerifyException(Reason.MISMATCHED, m);
  }

  private Checked checkOrThrow(byte[] nonce, long now, byte[] body) throws VerifyException {
    Mp.Obj doc = Mp.parse(body);
    byte[] venv = doc.bin("verdict", 1, Envelope.MAX_ENVELOPE);
    if (!doc.has("chain")) {
      throw new FormatException("response has no chain", -1);
    }
    Mp chain = doc.value("chain");
    if (chain.peek() != Mp.Kind.ARRAY) {
      throw new FormatException("'chain': expected array", chain.pos());
    }
    int nchain = chain.array();
    if (nchain == 0) {
      return unchecked(nonce, venv, body, now);
    }
    if (nchain != 1) {
      throw new FormatException("expected a chain of one license, got " + nchain + " entries", -1);
    }
    if (chain.peek() != Mp.Kind.BIN) {
      throw new FormatException("'chain': entries must be bin", chain.pos());
    }
    byte[] lenv = chain.bin();
    if (account != null) {
      Verdict v = Chain.publicVerdict(lenv, venv, trust);
      commonChecks(v, nonce, now);
      if (!v.account().map(account::equals).orElse(false)) {
        throw mismatch("the verdict names another account");
      }
      if (v.status() == Status.VALID) {
        Terms.Decision d = Terms.decide("account", 0, v.domains(), v.ports(), v.apps(),
            new Terms.Ask(domain, port, app, -1));
        Status st = d.status;
        if (st == Status.VALID && v.expires() != 0 && now >= v.expires()) {
          st = Status.EXPIRED;
        }
        if (st != Status.VALID) {
          throw mismatch("server said valid but the verdict's own terms say " + st.wireName());
        }
      }
      return new Checked(v, null, body, nonce, now);
    }
    License l = license(lenv);
    if (l.mode() != License.Mode.PRIVATE || l.nodeKey().isEmpty()) {
      throw new FormatException("the chain's license is not a private-mode license", -1);
    }
    boolean unknown = Chain.peekUnknown(venv);
    // Lineage: a server answers for the license in force; a renewal names what it supersedes.
    if (!unknown && license != null && !license.equals(l.id()) && l.supersedes().isEmpty()) {
      throw mismatch("the server answered for another license");
    }
    Verdict v = Chain.privateVerdict(l, venv);
    if (!Arrays.equals(v.nonce(), nonce)) {
      throw mismatch("the verdict does not answer our nonce (replayed?)");
    }
    if (unknown != (v.status() == Status.UNKNOWN_LICENSE)) {
      throw new FormatException("verdict status unreadable", -1);
    }
    if (!unknown && !v.license().map(l.id()::equals).orElse(false)) {
      throw mismatch("the verdict names another license than its chain");
    }
    commonChecks(v, nonce, now);
    if (v.status() == Status.VALID) {
      Terms.Decision d = Terms.window("license", l.notBefore(), l.expires(), now);
      if (d.status == Status.VALID) {
        d = Terms.decide("license", l.major(), l.domains(), l.ports(), l.apps(),
            new Terms.Ask(domain, port, app, Terms.major(version)));
      }
      if (d.status != Status.VALID) {
        throw mismatch("server said valid but the license says " + d.status.wireName() + ": "
            + d.reason);
      }
    }
    return new Checked(v, l, body, nonce, now);
  }

  private void commonChecks(Verdict v, byte[] nonce, long now) throws VerifyException {
    if (!Arrays.equals(v.nonce(), nonce)) {
      throw mismatch("the verdict does not answer our nonce (replayed?)");
    }
    if (!v.node().equals(node)) {
      throw mismatch("the verdict is for another node");
    }
    if (v.time() > now + MAX_SKEW || v.time() < now - MAX_SKEW) {
      throw mismatch("server time differs from ours by " + (v.time() - now) + " s (allowed "
          + MAX_SKEW + ")");
    }
  }

  /** A denial without a chain: unsigned, taken only when it answers us and is not valid. */
  private Checked unchecked(byte[] nonce, byte[] venv, byte[] body, long now) throws VerifyException {
    Envelope e = Envelope.open(venv, "verdict", "a verdict");
    Verdict v = Verdict.parseBody(e.body(), false);
    if (v.status() == Status.VALID) {
      throw new FormatException("a valid verdict without a license in its chain", -1);
    }
    if (!Arrays.equals(v.nonce(), nonce)) {
      throw mismatch("the verdict does not answer our nonce (replayed?)");
    }
    if (!v.node().equals(node)) {
      throw mismatch("the verdict is for another node");
    }
    return new Checked(v, null, body, nonce, now);
  }

  @Override
  public String toString() {
    return "Verifier[" + domain + ":" + port + ", node " + node
        + (account != null ? ", account " + account : license != null ? ", license " + license : "")
        + ", tls " + (tls == null ? "system store" : tls) + "]";
  }
}
