package com.licsrv.client.internal;

import com.licsrv.client.VerifyException;
import com.licsrv.client.VerifyException.Reason;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;

/**
 * The local check's clock high-water mark: the latest time a check saw, in {@code STATE/clock}
 * (decimal Unix seconds and a newline, mode 0600), the file and rule of licctl check
 * (common/licctl/clock.c). Stateless.
 */
public final class ClockMark {
  /** The file in the state directory. */
  public static final String FILE = "clock";
  /** Seconds the clock may go back below the mark (liblic's LIC_SESSION_ROLLBACK). */
  public static final long ROLLBACK = 3600;

  private ClockMark() {}

  /**
   * Checks now against the mark and raises the mark to now (never lowers it).
   *
   * @param dir the state directory (created 0700 when missing)
   * @param now the clock's reading (Unix seconds)
   * @return the clock_rollback reason when now is more than an hour below the mark
   * @throws VerifyException when the mark file is damaged (fail closed)
   * @throws IOException when it cannot be read or written
   */
  public static Optional<String> check(Path dir, long now) throws VerifyException, IOException {
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir,
          PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
    }
    Path p = dir.resolve(FILE);
    long hwm = 0;
    try {
      if (Files.size(p) > 64) {
        throw damaged(p);
      }
      String s = new String(Files.readAllBytes(p), StandardCharsets.US_ASCII).strip();
      if (!s.matches("[0-9]{1,18}")) {
        throw damaged(p);
      }
      hwm = Long.parseLong(s);
    } catch (NoSuchFileException e) {
      hwm = 0;
    }
    if (now < hwm - ROLLBACK) {
      long behind = hwm - now;
      return Optional.of(String.format("this machine's clock is %dh%02dm behind the latest time a "
          + "check saw (%s): set the clock right", behind / 3600, behind % 3600 / 60,
          Ids.time(hwm)));
    }
    if (now > hwm) {
      AtomicFile.write(p, (now + "\n").getBytes(StandardCharsets.US_ASCII), "rw-------");
    }
    return Optional.empty();
  }

  private static VerifyException damaged(Path p) {
    return new VerifyException(Reason.FORMAT, p + ": not a time (damaged?): remove it only if "
        + "this machine's clock is right");
  }
}
