package com.licsrv.client.servlet;

import com.licsrv.client.Session;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import javax.servlet.Filter;
import javax.servlet.FilterChain;
import javax.servlet.ServletException;
import javax.servlet.ServletRequest;
import javax.servlet.ServletResponse;
import javax.servlet.http.HttpServletResponse;

/**
 * A servlet filter that answers 503 with a plain page while the license session is
 * unlicensed, and passes every request on while it is licensed or in grace.
 *
 * <p>It reads {@link Session#state()} per request (no network call). Thread-safe: one
 * instance serves all requests. The session is started and stopped by the application.
 *
 * <pre>{@code
 * public void contextInitialized(ServletContextEvent e) {
 *   session.start(executor);
 *   e.getServletContext().addFilter("license", new LicenseFilter(session))
 *       .addMappingForUrlPatterns(null, false, "/*");
 * }
 * }</pre>
 */
public final class LicenseFilter implements Filter {
  private static final byte[] PAGE = ("This report server is not licensed: reports are off.\n"
      + "Its administrator can see why with 'java -jar liblic.jar status'.\n")
      .getBytes(StandardCharsets.UTF_8);
  private final Session session;

  /**
   * A filter on this session.
   *
   * @param session the running license session
   * @throws NullPointerException when session is null
   */
  public LicenseFilter(Session session) {
    this.session = Objects.requireNonNull(session, "session");
  }

  @Override
  public void doFilter(ServletRequest req, ServletResponse resp, FilterChain chain)
      throws IOException, ServletException {
    if (session.state() != Session.State.UNLICENSED) {
      chain.doFilter(req, resp);
      return;
    }
    if (resp instanceof HttpServletResponse) {
      HttpServletResponse h = (HttpServletResponse) resp;
      h.setStatus(HttpServletResponse.SC_SERVICE_UNAVAILABLE);
      h.setHeader("Retry-After", "60");
      h.setHeader("Cache-Control", "no-store");
    }
    resp.setContentType("text/plain; charset=UTF-8");
    resp.setContentLength(PAGE.length);
    resp.getOutputStream().write(PAGE);
  }
}
