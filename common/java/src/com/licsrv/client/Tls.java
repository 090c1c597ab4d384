package com.licsrv.client;

import com.licsrv.client.internal.PinTrust;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;

/**
 * How an {@code https://} license server is authenticated: the system store, a CA file, or
 * SPKI SHA-256 pins. Host names are checked in every case.
 *
 * <p>With pins the server's own key (the leaf certificate's SubjectPublicKeyInfo) must match
 * one pin; that certificate then stands as the trust anchor, so its names and dates are still
 * checked against the URL. Immutable and thread-safe.
 *
 * <pre>{@code
 * Tls tls = Tls.pins(List.of("sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="));
 * Tls ca = Tls.caFile(Path.of("/etc/reports/licsrv-ca.pem"));
 * }</pre>
 */
public final class Tls {
  private final SSLContext context;
  private final String describe;

  private Tls(SSLContext context, String describe) {
    this.context = context;
    this.describe = describe;
  }

  /**
   * The JDK's default trust store (its cacerts; Debian links it to the system store).
   *
   * @return the setting
   * @throws GeneralSecurityException when the JDK has no TLS
   */
  public static Tls system() throws GeneralSecurityException {
    return new Tls(SSLContext.getDefault(), "system store");
  }

  /**
   * Trust the PEM CA certificate(s) in a file, and nothing else.
   *
   * @param pem the CA file
   * @return the setting
   * @throws IOException when it cannot be read
   * @throws GeneralSecurityException when it holds no certificate
   */
  public static Tls caFile(Path pem) throws IOException, GeneralSecurityException {
    KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
    ks.load(null, null);
    int i = 0;
    try (InputStream in = Files.newInputStream(pem)) {
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        ks.setCertificateEntry("ca" + i++, c);
      }
    }
    if (i == 0) {
      throw new GeneralSecurityException(pem + ": no PEM certificate in it");
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
    tmf.init(ks);
    return new Tls(context(tmf.getTrustManagers()), "CA file " + pem);
  }

  /**
   * Trust a server whose key matches one of these pins ({@code sha256/BASE64} of the SPKI,
   * as {@code openssl x509 -pubkey | openssl pkey -pubin -outform der | openssl dgst -sha256
   * -binary | base64} prints).
   *
   * @param pins one or more pins
   * @return the setting
   * @throws IllegalArgumentException when a pin is malformed or none is given
   * @throws GeneralSecurityException when the JDK has no TLS
   */
  public static Tls pins(List<String> pins) throws GeneralSecurityException {
    Objects.requireNonNull(pins, "pins");
    if (pins.isEmpty()) {
      throw new IllegalArgumentException("give at least one pin");
    }
    List<byte[]> raw = pins.stream().map(Tls::pin).toList();
    return new Tls(context(new TrustManager[] {new PinTrust(raw)}), "pins");
  }

  /**
   * Decodes one pin.
   *
   * @param pin {@code sha256/BASE64}
   * @return the 32-byte digest
   * @throws IllegalArgumentException when malformed
   */
  public static byte[] pin(String pin) {
    byte[] d = null;
    if (pin.startsWith("sha256/")) {
      try {
        d = Base64.getDecoder().decode(pin.substring(7));
      } catch (IllegalArgumentException e) {
        d = null;
      }
    }
    if (d == null || d.length != 32) {
      throw new IllegalArgumentException("a pin is sha256/ and the base64 of 32 bytes");
    }
    return d;
  }

  private static SSLContext context(TrustManager[] tms) throws GeneralSecurityException {
    SSLContext c = SSLContext.getInstance("TLS");
    c.init(null, tms, null);
    return c;
  }

  SSLContext context() {
    return context;
  }

  @Override
  public String toString() {
    return describe;
  }
}
