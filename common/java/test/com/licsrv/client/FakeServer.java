package com.licsrv.client;

import com.licsrv.client.internal.Ed25519;
import com.licsrv.client.internal.Ids;
import com.licsrv.client.internal.Mp;
import com.licsrv.client.internal.MpWriter;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * License servers in a test: real signatures (the TEST root signs a private license, a fresh
 * node key signs verdicts) for the request's own nonce, at a fake time. Not thread-safe.
 */
final class FakeServer implements Verifier.Transport {
  final AtomicLong now = new AtomicLong(1_800_000_000L);
  final Set<String> down = new HashSet<>();
  final Map<String, Integer> calls = new HashMap<>();
  Status status = Status.VALID;
  long heartbeat = 100;
  long grace = 1000;
  long expires = 0;
  final UUID licenseId = UUID.fromString("20212223-2425-2627-2829-2a2b2c2d2e2f");
  UUID answerFor = licenseId;
  UUID supersedes;
  byte[] replay;
  /** When set, each exchange signals entered and waits for release (a slow server). */
  java.util.concurrent.CountDownLatch entered;
  java.util.concurrent.CountDownLatch release;
  /** Throw an unchecked exception from the transport (a bug in a layer below). */
  boolean crash;
  /** Send the verdict without a chain (an unsigned denial, as for an unknown license). */
  boolean noChain;
  /** Seconds the fake clock moves during each exchange (a slow answer across a second). */
  long slow;
  /** The revocation list this server keeps (sent when newer than the client's), its seq. */
  byte[] revocations;
  long revocationsSeq;
  /** The revocations_seq of the last request (0 when absent). */
  long seenSeq;
  private final PrivateKey root;
  private final KeyPair node;

  FakeServer() throws Exception {
    String pem = new String(Files.readAllBytes(Vectors.testKey("test-root.pem")), StandardCharsets.US_ASCII);
    String b64 = pem.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
    root = KeyFactory.getInstance("Ed25519").generatePrivate(
        new PKCS8EncodedKeySpec(Base64.getDecoder().decode(b64)));
    node = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
  }

  byte[] nodeRaw() {
    byte[] spki = node.getPublic().getEncoded();
    return Arrays.copyOfRange(spki, spki.length - 32, spki.length);
  }

  static byte[] seal(String typ, byte[] body, PrivateKey key, byte[] kid) throws Exception {
    Signature s = Signature.getInstance("Ed25519");
    s.initSign(key);
    s.update(("LICSRV1 " + typ + "\n").getBytes(StandardCharsets.US_ASCII));
    s.update(body);
    return Vectors.envelope(typ, kid, body, s.sign());
  }

  byte[] license() throws Exception {
    MpWriter w = new MpWriter().map(supersedes != null ? 22 : 21);
    w.str("typ").str("license").str("id").bin(Ids.bytes(answerFor)).str("mode").str("private")
        .str("issued").integer(1767225600L).str("not_before").integer(1767225600L)
        .str("expires").integer(expires).str("customer").str("C").str("project").str("P")
        .str("project_id").bin(new byte[16]).str("product").str("R").str("major").integer(0)
        .str("features").array(1).str("pdf").str("domains").array(0).str("ports").array(0)
        .str("apps").array(0).str("max_nodes").integer(0)
        .str("machine").map(2).str("code").str("7D2K-9QWX-M3RT-HB5P").str("macs").array(1).bin(new byte[16])
        .str("node_key").bin(nodeRaw()).str("heartbeat").integer(heartbeat).str("grace").integer(grace)
        .str("rif").bin(new byte[32]);
    if (supersedes != null) {
      w.str("supersedes").bin(Ids.bytes(supersedes));
    }
    byte[] rootRaw = Vectors.testRoot().rawKeys().get(0);
    return seal("license", w.toBytes(), root, Ed25519.kid(rootRaw));
  }

  @Override
  public byte[] post(URI uri, byte[] req) throws VerifyException {
    String host = uri.getHost();
    calls.merge(host, 1, Integer::sum);
    if (crash) {
      throw new IllegalStateException("transport bug");
    }
    if (down.contains(host)) {
      throw new VerifyException(VerifyException.Reason.IO, uri + ": connection refused");
    }
    if (replay != null) {
      return replay;
    }
    now.addAndGet(slow);
    if (release != null) {
      entered.countDown();
      try {
        release.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    try {
      Mp.Obj q = Mp.parse(req);
      byte[] body = new MpWriter().map(15).str("typ").str("verdict")
          .str("nonce").bin(q.bin("nonce", 16, 64)).str("time").integer(now.get())
          .str("license").bin(Ids.bytes(answerFor)).str("node").str(q.str("node", 1, 128))
          .str("status").str(status.wireName()).str("reason").str(status.text())
          .str("features").array(1).str("pdf").str("domains").array(0).str("ports").array(0)
          .str("apps").array(0).str("expires").integer(expires).str("heartbeat").integer(heartbeat)
          .str("grace").integer(grace).str("seats").map(2).str("used").integer(1).str("max").integer(0)
          .toBytes();
      byte[] venv = seal("verdict", body, node.getPrivate(), Ed25519.kid(nodeRaw()));
      seenSeq = q.has("revocations_seq") ? q.integer("revocations_seq", 1, Long.MAX_VALUE) : 0;
      boolean rev = revocations != null && revocationsSeq > seenSeq;
      if (noChain) {
        return new MpWriter().map(2).str("verdict").bin(venv).str("chain").array(0).toBytes();
      }
      MpWriter w = new MpWriter().map(rev ? 3 : 2).str("verdict").bin(venv).str("chain").array(1)
          .bin(license());
      if (rev) {
        w.str("revocations").bin(revocations);
      }
      return w.toBytes();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  Verifier.Builder verifier() {
    return Verifier.newBuilder().trust(Vectors.testRoot()).domain("reports.example.com").port(443)
        .node("node-1").transport(this).clock(new FakeClock(now));
  }

  static List<URI> urls(String... hosts) {
    return Arrays.stream(hosts).map(h -> URI.create("http://" + h + ":7470")).toList();
  }
}
