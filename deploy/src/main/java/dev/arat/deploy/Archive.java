package dev.arat.deploy;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorOutputStream;

/**
 * The package as a {@code .tar.gz} (Apache Commons Compress): one top folder named like the package
 * folder, regular files and folders only, entries sorted, modification times fixed to the package
 * date so the same folder gives the same archive.
 */
final class Archive {
  private Archive() {}

  /** Writes {@code dir}'s {@code files} (relative paths, '/'-separated) under {@code top/}. */
  static void write(Path dir, List<String> files, String top, Path tarGz, long epochMillis) {
    try (OutputStream fo = new BufferedOutputStream(Files.newOutputStream(tarGz));
        GzipCompressorOutputStream gz = new GzipCompressorOutputStream(fo);
        TarArchiveOutputStream tar = new TarArchiveOutputStream(gz)) {
      tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
      tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
      for (String f : files.stream().sorted().toList()) {
        Path p = dir.resolve(f);
        TarArchiveEntry e = new TarArchiveEntry(top + "/" + f);
        e.setSize(Files.size(p));
        e.setModTime(epochMillis);
        e.setMode(0644);
        tar.putArchiveEntry(e);
        Files.copy(p, tar);
        tar.closeArchiveEntry();
      }
      tar.finish();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + tarGz + ": " + e.getMessage(), e);
    }
  }

  /**
   * Extracts a package archive into {@code into} and returns the package folder: the single top
   * folder if all entries share one, else {@code into}.
   *
   * @throws IllegalArgumentException when the archive is unreadable, or has an entry that is not a
   *     plain file or folder or whose path leaves the folder (absolute, {@code ..})
   */
  static Path extract(Path tarGz, Path into) {
    String top = null;
    boolean oneTop = true;
    Path root = into.toAbsolutePath().normalize();
    try (InputStream fi = new BufferedInputStream(Files.newInputStream(tarGz));
        GzipCompressorInputStream gz = new GzipCompressorInputStream(fi);
        TarArchiveInputStream tar = new TarArchiveInputStream(gz)) {
      for (TarArchiveEntry e; (e = tar.getNextEntry()) != null; ) {
        String name = e.getName();
        if (!(e.isFile() || e.isDirectory())) {
          throw new IllegalArgumentException(
              tarGz
                  + ": entry '"
                  + name
                  + "' is not a plain file or folder"
                  + " (links and devices are refused)");
        }
        Path target = root.resolve(name).normalize();
        if (name.startsWith("/")
            || name.contains("\\")
            || !target.startsWith(root)
            || target.equals(root)) {
          throw new IllegalArgumentException(
              tarGz + ": entry '" + name + "' leaves the package folder");
        }
        String first = root.relativize(target).getName(0).toString();
        if (top == null) {
          top = first;
        } else if (!top.equals(first)) {
          oneTop = false;
        }
        if (e.isDirectory()) {
          Files.createDirectories(target);
        } else {
          if (target.getNameCount() == root.getNameCount() + 1) {
            oneTop = false; // a file at the top level
          }
          Files.createDirectories(target.getParent());
          Files.copy(tar, target);
        }
      }
    } catch (IOException e) {
      throw new IllegalArgumentException(
          tarGz + " is not a readable .tar.gz: " + e.getMessage(), e);
    }
    if (top == null) {
      throw new IllegalArgumentException(tarGz + " is empty");
    }
    return oneTop ? root.resolve(top) : root;
  }
}
