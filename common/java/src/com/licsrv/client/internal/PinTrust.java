package com.licsrv.client.internal;

import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * SPKI SHA-256 pinning on top of the JDK's PKIX trust manager: the leaf's key must match a
 * pin; the leaf then becomes the only trust anchor and the default PKIX manager checks the
 * rest (dates, and the host name through the engine's endpoint identification). Immutable.
 */
public final class PinTrust extends X509ExtendedTrustManager {
  private final List<byte[]> pins;

  public PinTrust(List<byte[]> pins) {
    this.pins = List.copyOf(pins);
  }

  private X509ExtendedTrustManager anchored(X509Certificate[] chain) throws CertificateException {
    if (chain == null || chain.length == 0) {
      throw new CertificateException("the server sent no certificate");
    }
    byte[] spki = Ed25519.sha256(chain[0].getPublicKey().getEncoded());
    boolean ok = false;
    for (byte[] p : pins) {
      ok |= MessageDigest.isEqual(p, spki);
    }
    if (!ok) {
      throw new CertificateException("the server's key matches no --pin");
    }
    try {
      KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
      ks.load(null, null);
      ks.setCertificateEntry("pinned", chain[0]);
      TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
      tmf.init(ks);
      for (TrustManager tm : tmf.getTrustManagers()) {
        if (tm instanceof X509ExtendedTrustManager) {
          return (X509ExtendedTrustManager) tm;
        }
      }
    } catch (GeneralSecurityException | java.io.IOException e) {
      throw new CertificateException("pinned trust: " + e.getMessage(), e);
    }
    throw new CertificateException("no PKIX trust manager in this JDK");
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    anchored(chain).checkServerTrusted(new X509Certificate[] {chain[0]}, authType, engine);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    anchored(chain).checkServerTrusted(new X509Certificate[] {chain[0]}, authType, socket);
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    throw new CertificateException("pinned TLS needs the connection to check the host name");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    throw new CertificateException("not a TLS server");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    throw new CertificateException("not a TLS server");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    throw new CertificateException("not a TLS server");
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return new X509Certificate[0];
  }
}
