package dev.arat.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.zip.GZIPOutputStream;

/** Writes small ustar archives (optionally gzip-compressed) for tests. */
final class TestTar {
  private TestTar() {}

  /** Writes {@code entries} (name to content, in map order) as a tar, gzip-compressed if asked. */
  static void write(Path file, Map<String, byte[]> entries, boolean gzip) throws IOException {
    Files.write(file, bytes(entries, gzip));
  }

  static byte[] bytes(Map<String, byte[]> entries, boolean gzip) throws IOException {
    ByteArrayOutputStream tar = new ByteArrayOutputStream();
    // a directory entry first, as real archives have
    String dir = entries.keySet().iterator().next();
    if (dir.contains("/")) {
      tar.write(header(dir.substring(0, dir.indexOf('/') + 1), 0, '5'));
    }
    for (Map.Entry<String, byte[]> e : entries.entrySet()) {
      String name = e.getKey();
      if (name.length() > 99) {
        byte[] n = (name + "\0").getBytes(StandardCharsets.UTF_8);
        tar.write(header("././@LongLink", n.length, 'L'));
        tar.write(n);
        tar.write(new byte[(512 - n.length % 512) % 512]);
        name = name.substring(0, 99);
      }
      tar.write(header(name, e.getValue().length, '0'));
      tar.write(e.getValue());
      tar.write(new byte[(512 - e.getValue().length % 512) % 512]);
    }
    tar.write(new byte[1024]);
    if (!gzip) {
      return tar.toByteArray();
    }
    ByteArrayOutputStream gz = new ByteArrayOutputStream();
    try (OutputStream out = new GZIPOutputStream(gz)) {
      out.write(tar.toByteArray());
    }
    return gz.toByteArray();
  }

  private static byte[] header(String name, long size, char type) {
    byte[] h = new byte[512];
    byte[] n = name.getBytes(StandardCharsets.UTF_8);
    System.arraycopy(n, 0, h, 0, Math.min(100, n.length));
    put(h, 100, String.format("%07o", type == '5' ? 0755 : 0644));
    put(h, 108, "0000000");
    put(h, 116, "0000000");
    put(h, 124, String.format("%011o", size));
    put(h, 136, String.format("%011o", 1_600_000_000L));
    h[156] = (byte) type;
    put(h, 257, "ustar");
    put(h, 263, "00");
    for (int i = 148; i < 156; i++) {
      h[i] = ' ';
    }
    long sum = 0;
    for (byte b : h) {
      sum += b & 0xff;
    }
    put(h, 148, String.format("%06o", sum));
    h[154] = 0;
    return h;
  }

  private static void put(byte[] h, int off, String s) {
    byte[] b = s.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(b, 0, h, off, b.length);
  }
}
