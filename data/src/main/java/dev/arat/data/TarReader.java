package dev.arat.data;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * A minimal streaming reader of POSIX/ustar and GNU tar archives, enough for dataset tarballs:
 * regular files, GNU long names ({@code L} entries) and PAX {@code path} records; directories,
 * links and other entries are skipped. Every header's checksum is verified.
 *
 * <p>Use: {@code while ((e = tar.next()) != null) { read tar.content() ... }}. The content stream
 * of an entry ends at the entry's size and becomes invalid at the next {@link #next} call. The
 * caller owns (and closes) the underlying stream, e.g. a {@link java.util.zip.GZIPInputStream}.
 */
public final class TarReader {
  private static final int BLOCK = 512;

  private final InputStream in;
  private final String source;
  private long remaining;
  private long padding;
  private final byte[] header = new byte[BLOCK];

  /**
   * A regular file in the archive.
   *
   * @param name the entry's path inside the archive, e.g. {@code cifar-10-batches-bin/test_batch.bin}
   * @param size its length in bytes
   */
  public record Entry(String name, long size) {
    /** The last path component of {@link #name}. */
    public String baseName() {
      String n = name.endsWith("/") ? name.substring(0, name.length() - 1) : name;
      return n.substring(n.lastIndexOf('/') + 1);
    }
  }

  /**
   * Reads a tar stream.
   *
   * @param in the uncompressed tar bytes
   * @param source what to name in error messages (the archive's path)
   */
  public TarReader(InputStream in, String source) {
    this.in = in;
    this.source = source;
  }

  /**
   * Advances to the next regular file, skipping what is left of the current one.
   *
   * @return the entry, or null at the end of the archive
   * @throws DatasetException if a header is corrupt or the archive ends inside an entry
   * @throws IOException if the underlying stream fails
   */
  public Entry next() throws IOException {
    String longName = null;
    while (true) {
      skipFully(remaining + padding);
      remaining = 0;
      padding = 0;
      if (!readBlock(header)) {
        return null; // EOF without the two zero blocks: tolerated, as GNU tar does
      }
      if (allZero(header)) {
        return null;
      }
      verifyChecksum();
      long size = size();
      char type = (char) header[156];
      remaining = size;
      padding = (BLOCK - size % BLOCK) % BLOCK;
      if (type == 'L') {
        longName = cString(readContent(size));
        continue;
      }
      if (type == 'x') {
        String path = paxPath(readContent(size));
        if (path != null) {
          longName = path;
        }
        continue;
      }
      if (type != '0' && type != '\0' && type != '7') {
        longName = null;
        continue; // directory, link, global PAX header, ...: skipped
      }
      String name = longName != null ? longName : headerName();
      return new Entry(name, size);
    }
  }

  /** The current entry's bytes: a stream that ends after {@link Entry#size} bytes. */
  public InputStream content() {
    return new InputStream() {
      @Override
      public int read() throws IOException {
        if (remaining <= 0) {
          return -1;
        }
        int b = in.read();
        if (b < 0) {
          throw truncated();
        }
        remaining--;
        return b;
      }

      @Override
      public int read(byte[] buf, int off, int len) throws IOException {
        if (remaining <= 0) {
          return -1;
        }
        int n = in.read(buf, off, (int) Math.min(len, remaining));
        if (n < 0) {
          throw truncated();
        }
        remaining -= n;
        return n;
      }
    };
  }

  private byte[] readContent(long size) throws IOException {
    if (size > (1 << 20)) {
      throw new DatasetException(source + ": implausibly large tar metadata entry (" + size + " bytes)");
    }
    byte[] b = content().readAllBytes();
    if (b.length != size) {
      throw truncated();
    }
    return b;
  }

  private DatasetException truncated() {
    return new DatasetException(source + ": truncated archive (it ends inside an entry); "
        + "download it again");
  }

  private boolean readBlock(byte[] b) throws IOException {
    int off = 0;
    while (off < b.length) {
      int n = in.read(b, off, b.length - off);
      if (n < 0) {
        if (off == 0) {
          return false;
        }
        throw truncated();
      }
      off += n;
    }
    return true;
  }

  private void skipFully(long n) throws IOException {
    byte[] buf = new byte[8192];
    while (n > 0) {
      int r = in.read(buf, 0, (int) Math.min(buf.length, n));
      if (r < 0) {
        throw truncated();
      }
      n -= r;
    }
  }

  private static boolean allZero(byte[] b) {
    for (byte v : b) {
      if (v != 0) {
        return false;
      }
    }
    return true;
  }

  private void verifyChecksum() {
    long stored = octal(148, 8);
    long sum = 0;
    for (int i = 0; i < BLOCK; i++) {
      sum += (i >= 148 && i < 156) ? ' ' : (header[i] & 0xff);
    }
    if (stored != sum) {
      throw new DatasetException(source + ": not a tar archive or corrupt (header checksum mismatch)");
    }
  }

  private long size() {
    if ((header[124] & 0x80) != 0) { // GNU base-256 encoding for sizes >= 8 GiB
      long v = 0;
      for (int i = 125; i < 136; i++) {
        v = (v << 8) | (header[i] & 0xff);
      }
      return v;
    }
    long v = octal(124, 12);
    if (v < 0) {
      throw new DatasetException(source + ": corrupt tar header (negative size)");
    }
    return v;
  }

  private long octal(int off, int len) {
    long v = 0;
    int i = off;
    int end = off + len;
    while (i < end && (header[i] == ' ' || header[i] == 0)) {
      i++;
    }
    for (; i < end; i++) {
      byte c = header[i];
      if (c == 0 || c == ' ') {
        break;
      }
      if (c < '0' || c > '7') {
        throw new DatasetException(source + ": not a tar archive or corrupt (bad octal field)");
      }
      v = (v << 3) + (c - '0');
    }
    return v;
  }

  private String headerName() {
    String name = cString(slice(0, 100));
    boolean ustar = new String(header, 257, 5, StandardCharsets.US_ASCII).equals("ustar");
    String prefix = ustar ? cString(slice(345, 155)) : "";
    return prefix.isEmpty() ? name : prefix + "/" + name;
  }

  private byte[] slice(int off, int len) {
    byte[] b = new byte[len];
    System.arraycopy(header, off, b, 0, len);
    return b;
  }

  private static String cString(byte[] b) {
    int n = 0;
    while (n < b.length && b[n] != 0) {
      n++;
    }
    return new String(b, 0, n, StandardCharsets.UTF_8);
  }

  /** The {@code path} record of a PAX extended header ("len key=value\n" records), or null. */
  private static String paxPath(byte[] b) {
    String s = new String(b, StandardCharsets.UTF_8);
    int i = 0;
    while (i < s.length()) {
      int sp = s.indexOf(' ', i);
      if (sp < 0) {
        break;
      }
      int len;
      try {
        len = Integer.parseInt(s.substring(i, sp));
      } catch (NumberFormatException e) {
        break;
      }
      // the length counts bytes; the records we need are ASCII paths in practice
      int end = Math.min(s.length(), i + len);
      String rec = s.substring(sp + 1, end).stripTrailing();
      if (rec.startsWith("path=")) {
        return rec.substring(5);
      }
      if (len <= 0) {
        break;
      }
      i = end;
    }
    return null;
  }

  /** Reads exactly {@code n} bytes of the current entry or fails naming the archive. */
  byte[] readEntry(long n) throws IOException {
    if (n > Integer.MAX_VALUE - 16) {
      throw new DatasetException(source + ": entry too large to read into memory (" + n + " bytes)");
    }
    byte[] b = new byte[(int) n];
    int off = 0;
    InputStream c = content();
    while (off < b.length) {
      int r = c.read(b, off, b.length - off);
      if (r < 0) {
        throw truncated();
      }
      off += r;
    }
    return b;
  }
}
