package dev.arat.deploy;

import dev.arat.specs.Sha256;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/** SHA-256 of bytes and files, as lowercase hex ({@link Sha256}, read errors unchecked). */
final class Hashes {
  private Hashes() {}

  static String sha256(byte[] bytes) {
    return Sha256.ofBytes(bytes);
  }

  static String sha256(Path file) {
    try {
      return Sha256.ofFile(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file + ": " + e.getMessage(), e);
    }
  }
}
