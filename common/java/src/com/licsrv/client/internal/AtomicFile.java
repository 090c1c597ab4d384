package com.licsrv.client.internal;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/** Whole-file replacement that a reader never sees half done. Stateless. */
public final class AtomicFile {
  private AtomicFile() {}

  /**
   * Writes a file atomically (temp file, fsync, rename) with the given mode.
   *
   * @param p the file
   * @param data its new content
   * @param mode permissions such as {@code rw-------}
   * @throws IOException when it cannot be written (the old file stays)
   */
  public static void write(Path p, byte[] data, String mode) throws IOException {
    Path tmp = Files.createTempFile(p.getParent(), "." + p.getFileName(), ".tmp",
        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(mode)));
    try {
      try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(tmp,
          java.nio.file.StandardOpenOption.WRITE)) {
        ch.write(java.nio.ByteBuffer.wrap(data));
        ch.force(true);
      }
      Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString(mode));
      try {
        Files.move(tmp, p, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, p, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
