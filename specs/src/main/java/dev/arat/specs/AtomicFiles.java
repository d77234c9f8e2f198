package dev.arat.specs;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;

/**
 * Writes files so that a reader never sees a half-written one: temp file, then atomic rename.
 *
 * <p>The temporary file is created like any new file (permissions from the process umask, e.g.
 * {@code rw-r--r--}), not with {@code Files.createTempFile}'s owner-only {@code rw-------}, so a
 * report, model or checkpoint gets the same permissions as a file appended to in place (the ledger,
 * {@code metrics.jsonl}).
 */
public final class AtomicFiles {
  private AtomicFiles() {}

  private static final SecureRandom RANDOM = new SecureRandom();

  /** Writes {@code bytes} to {@code file} atomically, creating parent folders. */
  public static void write(Path file, byte[] bytes) throws IOException {
    Path abs = file.toAbsolutePath();
    Files.createDirectories(abs.getParent());
    Path tmp = siblingName(abs, ".tmp");
    try {
      Files.write(tmp, bytes, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      move(tmp, abs);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  /**
   * A fresh hidden name next to {@code target}, {@code .NAME.RANDOM.SUFFIX}, for a temporary file
   * or folder that is renamed onto {@code target} when complete.
   */
  public static Path siblingName(Path target, String suffix) {
    return target.resolveSibling(
        "." + target.getFileName() + "." + Long.toUnsignedString(RANDOM.nextLong(), 36) + suffix);
  }

  /** Writes UTF-8 text to {@code file} atomically. */
  public static void writeString(Path file, String text) throws IOException {
    write(file, text.getBytes(StandardCharsets.UTF_8));
  }

  /** Renames {@code from} to {@code to} atomically where the file system allows it. */
  public static void move(Path from, Path to) throws IOException {
    try {
      Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
    }
  }
}
