package dev.arat.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetsTest {
  @TempDir Path dir;

  /** Writes a tiny IDX pair: 3 images of 2x2 and their labels, gzip or raw. */
  static void writeIdx(Path dir, String prefix, boolean gzip) throws IOException {
    ByteArrayOutputStream img = new ByteArrayOutputStream();
    DataOutputStream d = new DataOutputStream(img);
    d.writeInt(0x803);
    d.writeInt(3);
    d.writeInt(2);
    d.writeInt(2);
    d.write(new byte[] {0, (byte) 255, 51, 102, 1, 2, 3, 4, 5, 6, 7, 8});
    ByteArrayOutputStream lab = new ByteArrayOutputStream();
    DataOutputStream l = new DataOutputStream(lab);
    l.writeInt(0x801);
    l.writeInt(3);
    l.write(new byte[] {9, 0, 4});
    write(
        dir.resolve(prefix + "-images-idx3-ubyte" + (gzip ? ".gz" : "")), img.toByteArray(), gzip);
    write(
        dir.resolve(prefix + "-labels-idx1-ubyte" + (gzip ? ".gz" : "")), lab.toByteArray(), gzip);
  }

  private static void write(Path p, byte[] bytes, boolean gzip) throws IOException {
    try (OutputStream out =
        gzip ? new GZIPOutputStream(Files.newOutputStream(p)) : Files.newOutputStream(p)) {
      out.write(bytes);
    }
  }

  @Test
  void readsGzipAndRawIdx() throws IOException {
    writeIdx(dir, "train", true);
    writeIdx(dir, "t10k", false);
    ImageDataset train = Datasets.load("fashion-mnist", dir, Split.TRAIN);
    ImageDataset test = Datasets.load("fashion-mnist", dir, Split.TEST);
    assertEquals(3, train.size());
    assertEquals(2, train.height());
    assertArrayEquals(new int[] {9, 0, 4}, train.labels());
    assertEquals(1f, train.pixels()[1]);
    assertEquals(0.2f, train.pixels()[2], 1e-7);
    assertEquals(train.sha256(), test.sha256());
    assertEquals("Ankle boot", train.classNames().get(9));
  }

  @Test
  void missingDatasetSaysHowToGetIt() {
    DatasetException e =
        assertThrows(
            DatasetException.class, () -> Datasets.load("fashion-mnist", dir, Split.TRAIN));
    assertTrue(e.getMessage().contains("apt-get install dataset-fashion-mnist"), e.getMessage());
    assertTrue(e.getMessage().contains(dir.toString()), e.getMessage());
    e = assertThrows(DatasetException.class, () -> Datasets.load("imagenet", dir, Split.TRAIN));
    assertTrue(e.getMessage().contains("fashion-mnist"), e.getMessage());
  }

  @Test
  void truncatedAndForeignFilesAreClearErrors() throws IOException {
    writeIdx(dir, "train", false);
    Path images = dir.resolve("train-images-idx3-ubyte");
    byte[] all = Files.readAllBytes(images);
    Files.write(images, Arrays.copyOf(all, all.length - 3));
    DatasetException e =
        assertThrows(DatasetException.class, () -> Datasets.load("mnist", dir, Split.TRAIN));
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    Files.writeString(images, "hello world, not idx");
    e = assertThrows(DatasetException.class, () -> Datasets.load("mnist", dir, Split.TRAIN));
    assertTrue(e.getMessage().contains("not an IDX image file"), e.getMessage());
  }

  @Test
  void realFashionMnistWhenInstalled() {
    org.junit.jupiter.api.Assumptions.assumeTrue(
        Files.exists(Datasets.FASHION_MNIST_DEFAULT.resolve("t10k-images-idx3-ubyte.gz")),
        "dataset-fashion-mnist is not installed");
    ImageDataset test = Datasets.load("fashion-mnist", null, Split.TEST);
    assertEquals(10_000, test.size());
    assertEquals(28, test.width());
    int[] counts = new int[10];
    for (int y : test.labels()) {
      counts[y]++;
    }
    assertArrayEquals(
        new int[] {1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000}, counts);
  }

  @Test
  void syntheticIsSeededAndLearnable() {
    ImageDataset a = SyntheticDataset.generate(1, 100, 1, 8, 8, 4);
    ImageDataset b = SyntheticDataset.generate(1, 100, 1, 8, 8, 4);
    ImageDataset c = SyntheticDataset.generate(2, 100, 1, 8, 8, 4);
    assertEquals(a.sha256(), b.sha256());
    assertNotEquals(a.sha256(), c.sha256());
    // nearest class mean (from a) classifies c well: the classes are separable
    int per = a.imageSize();
    double[][] mean = new double[4][per];
    for (int i = 0; i < a.size(); i++) {
      for (int j = 0; j < per; j++) {
        mean[a.labels()[i]][j] += a.pixels()[i * per + j] / 25.0;
      }
    }
    int correct = 0;
    for (int i = 0; i < c.size(); i++) {
      int best = -1;
      double bestD = Double.MAX_VALUE;
      for (int k = 0; k < 4; k++) {
        double dd = 0;
        for (int j = 0; j < per; j++) {
          double t = c.pixels()[i * per + j] - mean[k][j];
          dd += t * t;
        }
        if (dd < bestD) {
          bestD = dd;
          best = k;
        }
      }
      correct += best == c.labels()[i] ? 1 : 0;
    }
    assertTrue(correct >= 95, "nearest-mean accuracy " + correct);
  }

  @Test
  void permutationsAreSeededAndComplete() {
    int[] p = Permutations.of(50, 7);
    assertArrayEquals(p, Permutations.of(50, 7));
    int[] sorted = p.clone();
    Arrays.sort(sorted);
    for (int i = 0; i < 50; i++) {
      assertEquals(i, sorted[i]);
    }
    assertArrayEquals(Arrays.copyOf(p, 10), Permutations.firstOf(50, 10, 7));
    assertEquals(50, Permutations.firstOf(50, 0, 7).length);
  }
}
