package dev.arat.specs;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Properties;

/**
 * arat's version, read from a resource Maven fills in from the project version: the one source for
 * {@code arat --version}, the {@code tool_version} recorded in checkpoints, exported ONNX metadata
 * and evaluation reports.
 */
public final class AratVersion {
  /** The version, such as {@code 0.1.0}. */
  public static final String VERSION = load();

  private AratVersion() {}

  private static String load() {
    try (InputStream in = AratVersion.class.getResourceAsStream("arat-version.properties")) {
      if (in == null) {
        throw new IllegalStateException("arat-version.properties is missing from the specs jar");
      }
      Properties p = new Properties();
      p.load(in);
      String v = p.getProperty("version");
      if (v == null || v.isBlank() || v.startsWith("${")) {
        throw new IllegalStateException("arat-version.properties was not filtered: " + v);
      }
      return v;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
