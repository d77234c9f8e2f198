package dev.arat.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;

/**
 * Fetches dataset archives from their official locations, with a checksum.
 *
 * <p>A download goes to a temporary {@code .part} file in the target folder while its MD5 is
 * computed; only when the checksum matches is it moved (atomically where the file system allows) to
 * its final name, so an interrupted or corrupt download never leaves a file that looks complete.
 * Failures are {@link DatasetException}s that name the URL, the file to provide by hand and where
 * to put it; they come quickly on an offline machine (connection refused, unknown host, or the
 * connect timeout).
 */
public final class Downloads {
  private Downloads() {}

  /** Where the CIFAR tarballs live: {@code https://www.cs.toronto.edu/~kriz/}. */
  public static final URI CIFAR_BASE = URI.create("https://www.cs.toronto.edu/~kriz/");

  /** MD5 of {@code cifar-10-binary.tar.gz}. */
  public static final String CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530";

  /** MD5 of {@code cifar-100-binary.tar.gz}. */
  public static final String CIFAR100_MD5 = "03b5dce01913d631647c71ecec9e9cb8";

  /** Default time allowed to connect and to receive the response headers. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(15);

  /**
   * A file to fetch.
   *
   * @param url where it is
   * @param fileName the name it gets in the target folder
   * @param md5 its expected MD5, lower-case hex
   */
  public record Artifact(URI url, String fileName, String md5) {
    /** Validates the checksum's form. */
    public Artifact {
      if (md5 == null || !md5.matches("[0-9a-fA-F]{32}")) {
        throw new IllegalArgumentException("md5: need 32 hex digits, was " + md5);
      }
      md5 = md5.toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** The official URL of a CIFAR tarball. */
  public static URI cifarUrl(Cifar.Variant v) {
    return CIFAR_BASE.resolve(v.tarball());
  }

  /** The official MD5 of a CIFAR tarball. */
  public static String cifarMd5(Cifar.Variant v) {
    return v == Cifar.Variant.CIFAR10 ? CIFAR10_MD5 : CIFAR100_MD5;
  }

  /**
   * The CIFAR tarball as an artifact under {@code base} (the official one is {@link #CIFAR_BASE};
   * another base serves a mirror or a test server) with the official checksum.
   */
  public static Artifact cifarArtifact(Cifar.Variant v, URI base) {
    return new Artifact(base.resolve(v.tarball()), v.tarball(), cifarMd5(v));
  }

  /**
   * Downloads the official tarball of {@code name} ({@code cifar10} or {@code cifar100}) into
   * {@code targetDir}, unless a copy with the right checksum is already there. {@link
   * Datasets#load} then reads it from {@code targetDir}.
   *
   * @param name {@code cifar10}, {@code cifar-10}, {@code cifar100} or {@code cifar-100}
   * @param targetDir the folder to put the tarball in (created if needed), e.g. the default {@code
   *     ~/.cache/arat/cifar-10}; null for that default
   * @return the tarball's path
   * @throws DatasetException naming the file to provide by hand when the download fails
   */
  public static Path cifar(String name, Path targetDir) {
    Cifar.Variant v = Cifar.Variant.of(name);
    if (v == null) {
      throw new DatasetException("no download for '" + name + "': only cifar10 and cifar100");
    }
    Path dir = targetDir != null ? targetDir : v.defaultLocations().get(0);
    return fetch(cifarArtifact(v, CIFAR_BASE), dir, DEFAULT_TIMEOUT);
  }

  /**
   * Fetches {@code a} into {@code targetDir/a.fileName()}, verifying its MD5.
   *
   * @param a the file, its URL and checksum
   * @param targetDir created if needed (only once the server answers)
   * @param timeout allowed to connect and to receive the response headers
   * @return the verified file
   * @throws DatasetException on a connection failure, an HTTP error status, or a checksum mismatch
   *     (then nothing is left in {@code targetDir})
   */
  public static Path fetch(Artifact a, Path targetDir, Duration timeout) {
    Path target = targetDir.resolve(a.fileName());
    String howTo =
        "download "
            + a.fileName()
            + " (md5 "
            + a.md5()
            + ") from "
            + a.url()
            + " on a machine with internet access and put it in "
            + targetDir
            + " (or pass its path)";
    try {
      if (Files.isRegularFile(target) && a.md5().equals(md5(target))) {
        return target;
      }
    } catch (IOException e) {
      throw new DatasetException("cannot use " + targetDir + ": " + e.getMessage(), e);
    }
    Path part = null;
    try {
      HttpClient client =
          HttpClient.newBuilder()
              .connectTimeout(timeout)
              .followRedirects(HttpClient.Redirect.NORMAL)
              .build();
      HttpRequest req = HttpRequest.newBuilder(a.url()).timeout(timeout).GET().build();
      HttpResponse<InputStream> resp = client.send(req, HttpResponse.BodyHandlers.ofInputStream());
      try (InputStream body = resp.body()) {
        if (resp.statusCode() != 200) {
          throw new DatasetException(
              "cannot download " + a.url() + ": HTTP " + resp.statusCode() + "; " + howTo);
        }
        Files.createDirectories(targetDir);
        part = Files.createTempFile(targetDir, "." + a.fileName() + ".", ".part");
        MessageDigest md = MessageDigest.getInstance("MD5");
        try (OutputStream out = Files.newOutputStream(part)) {
          byte[] buf = new byte[1 << 16];
          int n;
          while ((n = body.read(buf)) >= 0) {
            md.update(buf, 0, n);
            out.write(buf, 0, n);
          }
        }
        String got = HexFormat.of().formatHex(md.digest());
        if (!got.equals(a.md5())) {
          throw new DatasetException(
              "checksum mismatch for "
                  + a.url()
                  + ": expected md5 "
                  + a.md5()
                  + ", got "
                  + got
                  + " ("
                  + Files.size(part)
                  + " bytes); the download was discarded. "
                  + "Retry, or "
                  + howTo);
        }
      }
      try {
        Files.move(
            part, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(part, target, StandardCopyOption.REPLACE_EXISTING);
      }
      part = null;
      return target;
    } catch (HttpConnectTimeoutException e) {
      throw new DatasetException(
          "cannot download "
              + a.url()
              + ": no connection within "
              + timeout.toSeconds()
              + " s (is this machine offline?); "
              + howTo,
          e);
    } catch (HttpTimeoutException e) {
      throw new DatasetException(
          "cannot download "
              + a.url()
              + ": no response within "
              + timeout.toSeconds()
              + " s; "
              + howTo,
          e);
    } catch (ConnectException e) {
      throw new DatasetException(
          "cannot download "
              + a.url()
              + ": cannot connect ("
              + describe(e)
              + "; is this machine offline?); "
              + howTo,
          e);
    } catch (IOException e) {
      throw new DatasetException(
          "cannot download " + a.url() + ": " + describe(e) + "; " + howTo, e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new DatasetException("download of " + a.url() + " interrupted; " + howTo, e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    } finally {
      if (part != null) {
        try {
          Files.deleteIfExists(part);
        } catch (IOException ignored) {
          // best effort: the .part name never looks like a complete file
        }
      }
    }
  }

  /** MD5 of a file, lower-case hex. */
  public static String md5(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      MessageDigest md = MessageDigest.getInstance("MD5");
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) >= 0) {
        md.update(buf, 0, n);
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static String describe(Throwable e) {
    StringBuilder sb = new StringBuilder();
    for (Throwable t = e; t != null && sb.length() < 300; t = t.getCause()) {
      String m = t.getMessage();
      String s = t.getClass().getSimpleName() + (m == null || m.isBlank() ? "" : ": " + m);
      if (sb.indexOf(s) < 0) {
        sb.append(sb.length() == 0 ? "" : " <- ").append(s);
      }
    }
    return sb.toString();
  }
}
