package dev.arat.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** CIFAR binary reading from tiny synthetic files: folders, tarballs and their failure modes. */
class CifarTest {
  @TempDir Path dir;

  static final String META10 =
      "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";

  /**
   * {@code n} CIFAR-10 records: label {@code (seed+i) % 10}, pixel j of record i = (seed+i+j) %
   * 256.
   */
  static byte[] records10(int n, int seed) {
    byte[] b = new byte[n * 3073];
    for (int i = 0; i < n; i++) {
      b[i * 3073] = (byte) ((seed + i) % 10);
      for (int j = 0; j < 3072; j++) {
        b[i * 3073 + 1 + j] = (byte) ((seed + i + j) % 256);
      }
    }
    return b;
  }

  /** {@code n} CIFAR-100 records: coarse {@code i % 20}, fine {@code (50+i) % 100}. */
  static byte[] records100(int n) {
    byte[] b = new byte[n * 3074];
    for (int i = 0; i < n; i++) {
      b[i * 3074] = (byte) (i % 20);
      b[i * 3074 + 1] = (byte) ((50 + i) % 100);
      b[i * 3074 + 2 + 5] = (byte) 255;
    }
    return b;
  }

  /** The files of a tiny CIFAR-10: 2 records per training batch, 3 test records. */
  static Map<String, byte[]> cifar10Files() {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("cifar-10-batches-bin/batches.meta.txt", META10.getBytes(StandardCharsets.UTF_8));
    for (int k = 5; k >= 1; k--) { // reverse order: the reader must not depend on archive order
      m.put("cifar-10-batches-bin/data_batch_" + k + ".bin", records10(2, 10 * k));
    }
    m.put("cifar-10-batches-bin/test_batch.bin", records10(3, 7));
    m.put("cifar-10-batches-bin/readme.html", "<html></html>".getBytes(StandardCharsets.UTF_8));
    return m;
  }

  static void extract(Map<String, byte[]> files, Path root) throws IOException {
    for (Map.Entry<String, byte[]> e : files.entrySet()) {
      Path p = root.resolve(e.getKey());
      Files.createDirectories(p.getParent());
      Files.write(p, e.getValue());
    }
  }

  private static void checkTiny10(ImageDataset train, ImageDataset test) {
    assertEquals(10, train.size());
    assertEquals(3, train.channels());
    assertEquals(32, train.height());
    assertEquals(32, train.width());
    assertEquals("cifar10/train", train.name());
    // batch 1 first (labels 10 % 10, 11 % 10), then batch 2 (20, 21), ...
    assertArrayEquals(new int[] {0, 1, 0, 1, 0, 1, 0, 1, 0, 1}, train.labels());
    assertArrayEquals(new int[] {7, 8, 9}, test.labels());
    // record 1 of test: pixel j = (7 + 1 + j) % 256; channel-major -> NCHW index j
    float[] px = test.pixels();
    int off = 3072;
    assertEquals(8 / 255f, px[off], 0f);
    assertEquals(((8 + 1024) % 256) / 255f, px[off + 1024], 0f); // green plane starts at 1024
    assertEquals(((8 + 33) % 256) / 255f, px[off + 33], 0f); // row 1, column 1 of red
    for (float v : px) {
      assertTrue(v >= 0f && v <= 1f);
    }
    assertEquals("truck", train.classNames().get(9));
  }

  @Test
  void readsExtractedFolderAndItsParent() throws IOException {
    extract(cifar10Files(), dir);
    checkTiny10(
        Datasets.load("cifar10", dir, Split.TRAIN), Datasets.load("cifar10", dir, Split.TEST));
    Path inner = dir.resolve("cifar-10-batches-bin");
    checkTiny10(
        Datasets.load("cifar-10", inner, Split.TRAIN), Datasets.load("CIFAR10", inner, Split.TEST));
  }

  @Test
  void readsTheTarballDirectlyOrFromItsFolder() throws IOException {
    Path tgz = dir.resolve("cifar-10-binary.tar.gz");
    TestTar.write(tgz, cifar10Files(), true);
    checkTiny10(
        Datasets.load("cifar10", tgz, Split.TRAIN), Datasets.load("cifar10", tgz, Split.TEST));
    checkTiny10(
        Datasets.load("cifar10", dir, Split.TRAIN), Datasets.load("cifar10", dir, Split.TEST));
    // an uncompressed tar given as a file works too
    Path tar = dir.resolve("other.tar");
    TestTar.write(tar, cifar10Files(), false);
    assertEquals(3, Datasets.load("cifar10", tar, Split.TEST).size());
  }

  @Test
  void sameDataFromFolderAndTarball() throws IOException {
    Path a = dir.resolve("a");
    Path b = dir.resolve("b");
    Files.createDirectories(b);
    extract(cifar10Files(), a);
    TestTar.write(b.resolve("cifar-10-binary.tar.gz"), cifar10Files(), true);
    assertEquals(
        Datasets.load("cifar10", a, Split.TRAIN).sha256(),
        Datasets.load("cifar10", b, Split.TRAIN).sha256());
  }

  @Test
  void tarReaderHandlesLongNames() throws IOException {
    Map<String, byte[]> m = new LinkedHashMap<>();
    String deep = "x/" + "d".repeat(120) + "/cifar-10-batches-bin/test_batch.bin";
    m.put(deep, records10(1, 3));
    Path tgz = dir.resolve("long.tar.gz");
    TestTar.write(tgz, m, true);
    ImageDataset t = Datasets.load("cifar10", tgz, Split.TEST);
    assertEquals(1, t.size());
    assertEquals(3, t.labels()[0]);
    assertEquals("airplane", t.classNames().get(0)); // no meta file: built-in names
  }

  @Test
  void cifar100UsesFineLabels() throws IOException {
    Path d = dir.resolve("cifar-100-binary");
    Files.createDirectories(d);
    Files.write(d.resolve("train.bin"), records100(4));
    Files.write(d.resolve("test.bin"), records100(2));
    ImageDataset train = Datasets.load("cifar100", dir, Split.TRAIN);
    assertArrayEquals(new int[] {50, 51, 52, 53}, train.labels());
    assertEquals(100, train.numClasses());
    assertEquals(1f, train.pixels()[5]);
    assertEquals(0f, train.pixels()[4]);
    assertEquals(100, Cifar.CIFAR100_CLASSES.size());
    assertEquals(100, Cifar.CIFAR100_CLASSES.stream().distinct().count());
    assertEquals("apple", train.classNames().get(0));
    assertEquals("worm", train.classNames().get(99));
    // and from its tarball, with the fine names file
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("cifar-100-binary/test.bin", records100(2));
    StringBuilder names = new StringBuilder();
    for (int i = 0; i < 100; i++) {
      names.append("fine").append(i).append('\n');
    }
    m.put(
        "cifar-100-binary/fine_label_names.txt", names.toString().getBytes(StandardCharsets.UTF_8));
    Path tgz = dir.resolve("t/cifar-100-binary.tar.gz");
    Files.createDirectories(tgz.getParent());
    TestTar.write(tgz, m, true);
    ImageDataset test = Datasets.load("cifar-100", tgz.getParent(), Split.TEST);
    assertEquals("fine51", test.classNames().get(51));
    assertArrayEquals(new int[] {50, 51}, test.labels());
  }

  @Test
  void missingFilesNameWhatIsExpectedAndWhere() throws IOException {
    DatasetException e =
        assertThrows(DatasetException.class, () -> Datasets.load("cifar10", dir, Split.TRAIN));
    String m = e.getMessage();
    assertTrue(m.contains("data_batch_1.bin") && m.contains("data_batch_5.bin"), m);
    assertTrue(m.contains("cifar-10-binary.tar.gz") && m.contains(dir.toString()), m);
    assertTrue(m.contains("c32a1d4ab5d03f1284b67883e8d87530"), m);
    // an incomplete extraction names the missing batch
    Map<String, byte[]> files = cifar10Files();
    files.remove("cifar-10-batches-bin/data_batch_3.bin");
    extract(files, dir);
    e = assertThrows(DatasetException.class, () -> Datasets.load("cifar10", dir, Split.TRAIN));
    assertTrue(e.getMessage().contains("lacks data_batch_3.bin ("), e.getMessage());
    assertEquals(3, Datasets.load("cifar10", dir, Split.TEST).size());
  }

  @Test
  void truncatedFilesAreNamed() throws IOException {
    extract(cifar10Files(), dir);
    Path f = dir.resolve("cifar-10-batches-bin/test_batch.bin");
    byte[] all = Files.readAllBytes(f);
    Files.write(f, Arrays.copyOf(all, all.length - 100));
    DatasetException e =
        assertThrows(DatasetException.class, () -> Datasets.load("cifar10", dir, Split.TEST));
    assertTrue(
        e.getMessage().contains("test_batch.bin") && e.getMessage().contains("truncated"),
        e.getMessage());
    // a batch cut at a record boundary is caught by comparing the five batches
    Path b4 = dir.resolve("cifar-10-batches-bin/data_batch_4.bin");
    Files.write(b4, Arrays.copyOf(Files.readAllBytes(b4), 3073));
    e = assertThrows(DatasetException.class, () -> Datasets.load("cifar10", dir, Split.TRAIN));
    assertTrue(e.getMessage().contains("data_batch_4.bin"), e.getMessage());
  }

  @Test
  void truncatedOrForeignTarballsAreClearErrors() throws IOException {
    byte[] tgz = TestTar.bytes(cifar10Files(), true);
    Path cut = dir.resolve("cifar-10-binary.tar.gz");
    Files.write(cut, Arrays.copyOf(tgz, tgz.length / 2));
    DatasetException e =
        assertThrows(DatasetException.class, () -> Datasets.load("cifar10", cut, Split.TEST));
    assertTrue(e.getMessage().contains(cut.toString()), e.getMessage());
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());

    Path junk = dir.resolve("junk.tar");
    Files.write(
        junk, "this is not a tar archive at all".repeat(40).getBytes(StandardCharsets.UTF_8));
    e = assertThrows(DatasetException.class, () -> Datasets.load("cifar10", junk, Split.TEST));
    assertTrue(e.getMessage().contains("not a tar archive"), e.getMessage());

    Map<String, byte[]> other = new LinkedHashMap<>();
    other.put("cifar-10-batches-py/test_batch", new byte[10]);
    Path py = dir.resolve("py.tar.gz");
    TestTar.write(py, other, true);
    e = assertThrows(DatasetException.class, () -> Datasets.load("cifar10", py, Split.TEST));
    assertTrue(
        e.getMessage().contains("test_batch.bin") && e.getMessage().contains("binary version"),
        e.getMessage());
  }

  @Test
  void corruptOrCutUncompressedTarsAreClearErrors() throws IOException {
    byte[] tar = TestTar.bytes(cifar10Files(), false);
    // a flipped byte in the second header (the first file's): checksum mismatch
    byte[] bad = tar.clone();
    bad[512 + 3] ^= 0x20;
    Path p = dir.resolve("bad.tar");
    Files.write(p, bad);
    DatasetException e =
        assertThrows(DatasetException.class, () -> Datasets.load("cifar10", p, Split.TEST));
    assertTrue(
        e.getMessage().contains("bad.tar") && e.getMessage().contains("corrupt"), e.getMessage());
    // cut inside the first file's content
    Path cut = dir.resolve("cut.tar");
    Files.write(cut, Arrays.copyOf(tar, 512 * 2 + 700));
    e = assertThrows(DatasetException.class, () -> Datasets.load("cifar10", cut, Split.TEST));
    assertTrue(
        e.getMessage().contains("cut.tar") && e.getMessage().contains("truncated"), e.getMessage());
  }

  @Test
  void entriesAreMatchedByBaseNameAndNeverExtracted() throws IOException {
    Map<String, byte[]> m = new LinkedHashMap<>();
    m.put("../../escape/test_batch.bin", records10(2, 5));
    Path tgz = dir.resolve("sub/odd.tar.gz");
    Files.createDirectories(tgz.getParent());
    TestTar.write(tgz, m, true);
    assertEquals(2, Datasets.load("cifar10", tgz, Split.TEST).size());
    assertTrue(
        Files.notExists(dir.resolve("escape"))
            && Files.notExists(dir.getParent().resolve("escape")));
  }

  @Test
  void badLabelsAndMetaAreClearErrors() throws IOException {
    extract(cifar10Files(), dir);
    Path f = dir.resolve("cifar-10-batches-bin/test_batch.bin");
    byte[] b = Files.readAllBytes(f);
    b[3073] = 12;
    Files.write(f, b);
    DatasetException e =
        assertThrows(DatasetException.class, () -> Datasets.load("cifar10", dir, Split.TEST));
    assertTrue(
        e.getMessage().contains("record 1") && e.getMessage().contains("label 12"), e.getMessage());
    Files.write(f, records10(3, 7));
    Files.writeString(dir.resolve("cifar-10-batches-bin/batches.meta.txt"), "a\nb\n");
    e = assertThrows(DatasetException.class, () -> Datasets.load("cifar10", dir, Split.TEST));
    assertTrue(
        e.getMessage().contains("batches.meta.txt") && e.getMessage().contains("10 class names"),
        e.getMessage());
  }

  @Test
  void realCifar10WhenPresent() {
    boolean present =
        Cifar.Variant.CIFAR10.defaultLocations().stream().anyMatch(Files::isDirectory);
    org.junit.jupiter.api.Assumptions.assumeTrue(present, "no CIFAR-10 in the default locations");
    ImageDataset test = Datasets.load("cifar10", null, Split.TEST);
    assertEquals(10_000, test.size());
    int[] counts = new int[10];
    for (int y : test.labels()) {
      counts[y]++;
    }
    assertArrayEquals(
        new int[] {1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}, counts);
    assertEquals(
        List.of(
            "airplane",
            "automobile",
            "bird",
            "cat",
            "deer",
            "dog",
            "frog",
            "horse",
            "ship",
            "truck"),
        test.classNames());
  }
}
