package dev.arat.data;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;

/**
 * Reads the IDX format of MNIST and Fashion-MNIST, gzip-compressed or raw: unsigned-byte images
 * ({@code idx3}, magic 0x00000803) and labels ({@code idx1}, magic 0x00000801).
 */
public final class IdxReader {
  private IdxReader() {}

  /** Images as float32 in {@code [0,1]} ({@code byte/255}) with their dimensions. */
  public record Images(int count, int rows, int cols, float[] pixels) {}

  /** Reads an {@code idx3-ubyte} image file. */
  public static Images readImages(Path file) {
    try (DataInputStream in = open(file)) {
      int magic = in.readInt();
      if (magic != 0x803) {
        throw new DatasetException(
            file + ": not an IDX image file (magic 0x" + Integer.toHexString(magic) + ")");
      }
      int n = in.readInt();
      int rows = in.readInt();
      int cols = in.readInt();
      if (n < 0
          || rows <= 0
          || cols <= 0
          || (long) rows * cols > Integer.MAX_VALUE / Math.max(n, 1)) {
        throw new DatasetException(
            file + ": implausible IDX dimensions " + n + "x" + rows + "x" + cols);
      }
      byte[] raw = readBytes(in, n * rows * cols, file);
      float[] px = new float[raw.length];
      for (int i = 0; i < raw.length; i++) {
        px[i] = (raw[i] & 0xff) / 255f;
      }
      return new Images(n, rows, cols, px);
    } catch (EOFException e) {
      throw new DatasetException(file + ": truncated IDX file", e);
    } catch (IOException e) {
      throw new DatasetException(file + ": cannot read: " + e.getMessage(), e);
    }
  }

  /** Reads an {@code idx1-ubyte} label file. */
  public static int[] readLabels(Path file) {
    try (DataInputStream in = open(file)) {
      int magic = in.readInt();
      if (magic != 0x801) {
        throw new DatasetException(
            file + ": not an IDX label file (magic 0x" + Integer.toHexString(magic) + ")");
      }
      int n = in.readInt();
      if (n < 0) {
        throw new DatasetException(file + ": negative label count");
      }
      byte[] raw = readBytes(in, n, file);
      int[] labels = new int[n];
      for (int i = 0; i < n; i++) {
        labels[i] = raw[i] & 0xff;
      }
      return labels;
    } catch (EOFException e) {
      throw new DatasetException(file + ": truncated IDX file", e);
    } catch (IOException e) {
      throw new DatasetException(file + ": cannot read: " + e.getMessage(), e);
    }
  }

  /**
   * Reads exactly {@code n} bytes; memory grows with the bytes actually there, so a header that
   * declares 2 GB in a small file is a truncation error, not a 2 GB allocation.
   */
  private static byte[] readBytes(InputStream in, int n, Path file) throws IOException {
    byte[] b = in.readNBytes(n);
    if (b.length != n) {
      throw new DatasetException(
          file
              + ": truncated IDX file (the header declares "
              + n
              + " data bytes, the file has "
              + b.length
              + ")");
    }
    return b;
  }

  private static DataInputStream open(Path file) throws IOException {
    InputStream raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
    raw.mark(2);
    int b1 = raw.read();
    int b2 = raw.read();
    raw.reset();
    boolean gzip = b1 == 0x1f && b2 == 0x8b;
    return new DataInputStream(
        gzip ? new BufferedInputStream(new GZIPInputStream(raw, 1 << 16)) : raw);
  }
}
