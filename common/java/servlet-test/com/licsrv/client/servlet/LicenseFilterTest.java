package com.licsrv.client.servlet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.licsrv.client.Session;
import com.licsrv.client.Verifier;
import java.io.ByteArrayOutputStream;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import javax.servlet.FilterChain;
import javax.servlet.ServletOutputStream;
import javax.servlet.WriteListener;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;
import org.junit.jupiter.api.Test;

/** The filter: 503 and the plain page while unlicensed, the chain otherwise. */
class LicenseFilterTest {
  private final Map<String, Object> seen = new HashMap<>();
  private final ByteArrayOutputStream body = new ByteArrayOutputStream();

  private HttpServletResponse response() {
    ServletOutputStream out = new ServletOutputStream() {
      @Override
      public boolean isReady() {
        return true;
      }

      @Override
      public void setWriteListener(WriteListener l) {}

      @Override
      public void write(int b) {
        body.write(b);
      }
    };
    return (HttpServletResponse) Proxy.newProxyInstance(getClass().getClassLoader(),
        new Class<?>[] {HttpServletResponse.class}, (p, m, a) -> {
          switch (m.getName()) {
            case "getOutputStream": return out;
            case "setStatus": seen.put("status", a[0]); return null;
            default:
              if (a != null && a.length > 0) {
                seen.put(m.getName(), a[a.length - 1]);
              }
              return null;
          }
        });
  }

  private static HttpServletRequest request() {
    return (HttpServletRequest) Proxy.newProxyInstance(LicenseFilterTest.class.getClassLoader(),
        new Class<?>[] {HttpServletRequest.class}, (p, m, a) -> null);
  }

  @Test
  void unlicensedAnswers503WithAPlainPage() throws Exception {
    // A session that never checked: unlicensed (no_verdict).
    Verifier v = Verifier.newBuilder().domain("localhost").port(443).node("n").build();
    Session s = Session.newBuilder(v, List.of(URI.create("http://127.0.0.1:9"))).build();
    boolean[] passed = {false};
    FilterChain chain = (q, r) -> passed[0] = true;
    new LicenseFilter(s).doFilter(request(), response(), chain);
    assertEquals(503, seen.get("status"));
    assertEquals(false, passed[0]);
    assertTrue(body.toString(java.nio.charset.StandardCharsets.UTF_8).startsWith(
        "This report server is not licensed"));
    assertEquals("text/plain; charset=UTF-8", seen.get("setContentType"));
  }

  @Test
  void licensedPassesTheRequestOn() throws Exception {
    Session s = com.licsrv.client.TestSessions.licensed();
    assertEquals(Session.State.LICENSED, s.state());
    boolean[] passed = {false};
    new LicenseFilter(s).doFilter(request(), response(), (q, r) -> passed[0] = true);
    assertTrue(passed[0]);
    assertEquals(null, seen.get("status"));
    assertEquals(0, body.size());
  }
}
