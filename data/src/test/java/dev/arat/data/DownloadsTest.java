package dev.arat.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The download path against a local HTTP server: success, checksum mismatch, refused connection.
 */
class DownloadsTest {
  @TempDir Path dir;
  private HttpServer server;
  private byte[] tarball;
  private final AtomicInteger requests = new AtomicInteger();
  private URI base;

  @BeforeEach
  void start() throws IOException {
    tarball = TestTar.bytes(CifarTest.cifar10Files(), true);
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext(
        "/files/",
        ex -> {
          requests.incrementAndGet();
          if (ex.getRequestURI().getPath().endsWith("/cifar-10-binary.tar.gz")) {
            ex.sendResponseHeaders(200, tarball.length);
            try (OutputStream out = ex.getResponseBody()) {
              out.write(tarball);
            }
          } else {
            ex.sendResponseHeaders(404, -1);
            ex.close();
          }
        });
    server.start();
    base = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/files/");
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  private static String md5(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(b));
  }

  private List<Path> contents(Path d) throws IOException {
    if (!Files.exists(d)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(d)) {
      return s.toList();
    }
  }

  @Test
  void downloadsVerifiesAndMovesIntoPlace() throws Exception {
    Path target = dir.resolve("cache/cifar-10");
    Downloads.Artifact a =
        new Downloads.Artifact(
            base.resolve("cifar-10-binary.tar.gz"), "cifar-10-binary.tar.gz", md5(tarball));
    Path got = Downloads.fetch(a, target, Duration.ofSeconds(5));
    assertEquals(target.resolve("cifar-10-binary.tar.gz"), got);
    assertEquals(List.of(got), contents(target), "no temporary file may remain");
    assertEquals(md5(tarball), Downloads.md5(got));
    // the downloaded tarball is what Datasets reads from the same folder
    assertEquals(3, Datasets.load("cifar10", target, Split.TEST).size());
    // a verified copy is not fetched again
    Downloads.fetch(a, target, Duration.ofSeconds(5));
    assertEquals(1, requests.get());
  }

  @Test
  void checksumMismatchLeavesNothingBehind() {
    Path target = dir.resolve("c10");
    Downloads.Artifact a = Downloads.cifarArtifact(Cifar.Variant.CIFAR10, base); // official md5
    DatasetException e =
        assertThrows(
            DatasetException.class, () -> Downloads.fetch(a, target, Duration.ofSeconds(5)));
    assertTrue(e.getMessage().contains("checksum mismatch"), e.getMessage());
    assertTrue(e.getMessage().contains(Downloads.CIFAR10_MD5), e.getMessage());
    assertTrue(e.getMessage().contains("cifar-10-binary.tar.gz"), e.getMessage());
    assertDoesNotThrowIo(() -> assertEquals(List.of(), contents(target)));
  }

  @Test
  void httpErrorIsClear() {
    Downloads.Artifact a =
        new Downloads.Artifact(
            base.resolve("missing.tar.gz"), "missing.tar.gz", "00000000000000000000000000000000");
    DatasetException e =
        assertThrows(DatasetException.class, () -> Downloads.fetch(a, dir, Duration.ofSeconds(5)));
    assertTrue(e.getMessage().contains("HTTP 404"), e.getMessage());
    assertDoesNotThrowIo(() -> assertEquals(List.of(), contents(dir)));
  }

  @Test
  void connectionRefusedFailsFastWithTheFileToProvide() throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    Path target = dir.resolve("offline");
    Downloads.Artifact a =
        Downloads.cifarArtifact(
            Cifar.Variant.CIFAR10, URI.create("http://127.0.0.1:" + port + "/~kriz/"));
    long t0 = System.nanoTime();
    DatasetException e =
        assertThrows(
            DatasetException.class, () -> Downloads.fetch(a, target, Duration.ofSeconds(5)));
    assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "must fail fast");
    String m = e.getMessage();
    assertTrue(m.contains("cannot connect") || m.contains("cannot download"), m);
    assertTrue(m.contains("cifar-10-binary.tar.gz") && m.contains(target.toString()), m);
    assertTrue(m.contains(Downloads.CIFAR10_MD5), m);
    assertEquals(List.of(), contents(target));
  }

  @Test
  void officialLocations() {
    assertEquals(
        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
        Downloads.cifarUrl(Cifar.Variant.CIFAR10).toString());
    assertEquals(
        "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
        Downloads.cifarUrl(Cifar.Variant.CIFAR100).toString());
    assertEquals("03b5dce01913d631647c71ecec9e9cb8", Downloads.cifarMd5(Cifar.Variant.CIFAR100));
    assertThrows(DatasetException.class, () -> Downloads.cifar("mnist", dir));
  }

  private interface IoRunnable {
    void run() throws IOException;
  }

  private static void assertDoesNotThrowIo(IoRunnable r) {
    try {
      r.run();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }
}
