package com.licsrv.client.internal;

import com.licsrv.client.FormatException;
import com.licsrv.client.Status;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** The pure decision on licensed terms, like liblic's license.c. Stateless, thread-safe. */
public final class Terms {
  private Terms() {}

  /** A decision: a status and a short reason. */
  public static final class Decision {
    public final Status status;
    public final String reason;

    public Decision(Status status, String reason) {
      this.status = status;
      this.reason = reason;
    }
  }

  /** What is asked: domain, port, app (may be null), major (-1 when not given). */
  public static final class Ask {
    public final String domain;
    public final long port;
    public final String app;
    public final long major;

    public Ask(String domain, long port, String app, long major) {
      this.domain = domain;
      this.port = port;
      this.app = app;
      this.major = major;
    }
  }

  public static String name(String s, String what) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x20 || c == 0x7f) {
        throw new FormatException(what + " holds a control character", -1);
      }
    }
    return s;
  }

  public static List<String> names(List<String> l, String what) {
    for (String s : l) {
      name(s, what);
    }
    return l;
  }

  private static String trimDot(String s) {
    return s.endsWith(".") ? s.substring(0, s.length() - 1) : s;
  }

  public static boolean domainMatch(String pattern, String host) {
    String p = trimDot(pattern).toLowerCase(Locale.ROOT);
    String h = trimDot(host).toLowerCase(Locale.ROOT);
    if (p.isEmpty() || h.isEmpty()) {
      return false;
    }
    if (p.startsWith("*.")) {
      String tail = p.substring(1);
      if (h.length() <= tail.length() || !h.endsWith(tail)) {
        return false;
      }
      return h.substring(0, h.length() - tail.length()).indexOf('.') < 0;
    }
    return p.equals(h);
  }

  /** Throws FormatException (inside signed bodies) or returns an error text (arguments). */
  public static Optional<String> domainProblem(String d, boolean allowWildcard) {
    int n = d.getBytes(StandardCharsets.UTF_8).length;
    if (n == 0 || n > 253) {
      return Optional.of("domain must be 1..253 bytes");
    }
    String p = trimDot(d);
    if (allowWildcard && p.startsWith("*.")) {
      p = p.substring(2);
      if (p.indexOf('.') < 0) {
        return Optional.of("wildcard '" + d + "' covers a whole top-level domain");
      }
    }
    int label = 0;
    for (int i = 0; i < p.length(); i++) {
      char c = p.charAt(i);
      if (c == '.') {
        if (label == 0) {
          return Optional.of("domain '" + d + "' has an empty label");
        }
        label = 0;
        continue;
      }
      if (c == '*') {
        return Optional.of("wildcard in '" + d + "' is broader than one leading label");
      }
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '_';
      if (!ok) {
        return Optional.of("domain '" + d + "' holds '" + (c >= 0x20 && c < 0x7f ? c : '?') + "'");
      }
      if (++label > 63) {
        return Optional.of("domain '" + d + "' has a label over 63 bytes");
      }
    }
    if (label == 0) {
      return Optional.of("domain '" + d + "' has an empty label");
    }
    return Optional.empty();
  }

  public static void domainCheck(String d, boolean allowWildcard) {
    Optional<String> p = domainProblem(d, allowWildcard);
    if (p.isPresent()) {
      throw new FormatException(p.get(), -1);
    }
  }

  public static boolean machineCodeValid(String code) {
    if (code.length() != 19) {
      return false;
    }
    for (int i = 0; i < 19; i++) {
      char c = code.charAt(i);
      if (i % 5 == 4) {
        if (c != '-') {
          return false;
        }
      } else if ("0123456789ABCDEFGHJKMNPQRSTVWXYZ".indexOf(c) < 0) {
        return false;
      }
    }
    return true;
  }

  public static Decision window(String what, long notBefore, long expires, long now) {
    if (now < notBefore) {
      return new Decision(Status.NOT_YET_VALID, what + " is valid from " + Ids.date(notBefore));
    }
    if (expires != 0 && now >= expires) {
      return new Decision(Status.EXPIRED, what + " expired on " + Ids.date(expires));
    }
    return new Decision(Status.VALID, Status.VALID.text());
  }

  public static Decision decide(String what, long major, List<String> domains, List<Long> ports,
      List<String> apps, Ask q) {
    if (major != 0 && q.major != major) {
      return new Decision(Status.VERSION_DENIED, q.major < 0
          ? "version not given; " + what + " is for major " + major
          : "major version " + q.major + " is not licensed (" + what + ": " + major + ")");
    }
    if (!domains.isEmpty() && domains.stream().noneMatch(d -> domainMatch(d, q.domain))) {
      return new Decision(Status.DOMAIN_DENIED, "domain '" + cut(q.domain) + "' is not licensed");
    }
    if (!ports.isEmpty() && !ports.contains(q.port)) {
      return new Decision(Status.PORT_DENIED, "port " + q.port + " is not licensed");
    }
    if (!apps.isEmpty() && (q.app == null || !apps.contains(q.app))) {
      return new Decision(Status.APP_DENIED, q.app == null
          ? "application not given; the " + what + " restricts applications"
          : "application '" + cut(q.app) + "' is not licensed");
    }
    return new Decision(Status.VALID, Status.VALID.text());
  }

  private static String cut(String s) {
    return s.length() > 100 ? s.substring(0, 100) : s;
  }

  /** The leading number of a version ("11.0.18" -> 11), -1 when absent or malformed. */
  public static long major(String version) {
    if (version == null) {
      return -1;
    }
    int n = 0;
    while (n < version.length() && Character.isDigit(version.charAt(n)) && version.charAt(n) < 128) {
      n++;
    }
    if (n == 0 || n >= 16 || (n < version.length() && version.charAt(n) != '.')) {
      return -1;
    }
    long v = Long.parseLong(version.substring(0, n));
    return v > Integer.MAX_VALUE ? -1 : v;
  }
}
