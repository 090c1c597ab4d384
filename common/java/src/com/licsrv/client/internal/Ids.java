package com.licsrv.client.internal;

import com.licsrv.client.FormatException;
import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.UUID;

/** Ids and times as the tools print them. Stateless and thread-safe. */
public final class Ids {
  private Ids() {}

  public static UUID uuid(byte[] id16) {
    ByteBuffer b = ByteBuffer.wrap(id16);
    return new UUID(b.getLong(), b.getLong());
  }

  public static byte[] bytes(UUID u) {
    return ByteBuffer.allocate(16).putLong(u.getMostSignificantBits())
        .putLong(u.getLeastSignificantBits()).array();
  }

  /** Strict 8-4-4-4-12 hex text (UUID.fromString accepts short groups). */
  public static UUID parse(String s) {
    if (!s.matches("[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")) {
      throw new FormatException("an id is a UUID (8-4-4-4-12 hex digits)", -1);
    }
    return UUID.fromString(s);
  }

  /** YYYY-MM-DD (UTC) of Unix seconds. */
  public static String date(long t) {
    return DateTimeFormatter.ISO_LOCAL_DATE.format(Instant.ofEpochSecond(t).atOffset(ZoneOffset.UTC));
  }

  /**
   * An end (exclusive; 0 = perpetual) as every licctl and licsrv tool prints it:
   * "valid until 2027-12-31T00:00:00Z, last day 2027-12-30".
   */
  public static String until(long t) {
    return t == 0 ? "never (perpetual)" : "valid until " + time(t) + ", last day " + date(t - 1);
  }

  /** RFC 3339 UTC of Unix seconds. */
  public static String time(long t) {
    return DateTimeFormatter.ISO_INSTANT.format(Instant.ofEpochSecond(t));
  }
}
