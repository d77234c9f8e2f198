package dev.arat.specs;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;

/**
 * Reads NumPy {@code .npz} archives ({@code numpy.savez} and {@code numpy.savez_compressed}): a zip
 * file whose entries {@code NAME.npy} are {@code .npy} arrays, read with {@link Npy#parse}. Entries
 * that do not end in {@code .npy} are ignored. Problems raise {@link Npy.NpyException} naming the
 * file (and the entry).
 */
public final class Npz {
  private Npz() {}

  /**
   * Reads every array of an archive.
   *
   * @param path the {@code .npz} file
   * @return the arrays by name (the entry name without {@code .npy}), in archive order
   * @throws Npy.NpyException if the file is missing, not a zip archive, or an entry is not a
   *     supported {@code .npy} array
   */
  public static Map<String, Npy.NpyArray> read(Path path) {
    if (!Files.exists(path)) {
      throw new Npy.NpyException(
          "npz file '" + path + "' does not exist", new NoSuchFileException(path.toString()));
    }
    Map<String, Npy.NpyArray> out = new LinkedHashMap<>();
    try (ZipFile zip = new ZipFile(path.toFile())) {
      Enumeration<? extends ZipEntry> entries = zip.entries();
      while (entries.hasMoreElements()) {
        ZipEntry e = entries.nextElement();
        String name = e.getName();
        if (e.isDirectory() || !name.endsWith(".npy")) {
          continue;
        }
        byte[] bytes;
        try (InputStream in = zip.getInputStream(e)) {
          bytes = in.readAllBytes();
        }
        String key = name.substring(0, name.length() - 4);
        out.put(key, Npy.parse(bytes, "array '" + key + "' of npz file '" + path + "'"));
      }
    } catch (ZipException e) {
      throw new Npy.NpyException(
          "npz file '" + path + "' is not a valid .npz (zip) archive: " + e.getMessage(), e);
    } catch (IOException e) {
      throw new Npy.NpyException("npz file '" + path + "' cannot be read: " + e.getMessage(), e);
    }
    if (out.isEmpty()) {
      throw new Npy.NpyException("npz file '" + path + "' holds no .npy arrays");
    }
    return out;
  }
}
