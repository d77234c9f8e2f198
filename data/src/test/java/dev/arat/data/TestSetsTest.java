package dev.arat.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.Npy;
import dev.arat.testsupport.Python;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Test sets from arrays, archives and image folders: layouts, checks and digests. */
class TestSetsTest {
  @TempDir Path dir;

  static EvaluationSuite.Data npy(Path x, Path y, String layout) {
    return new EvaluationSuite.Data(
        null, null, "npy", x.toString(), y.toString(), layout, null, null, null);
  }

  static EvaluationSuite.Data folder(Path p, Integer size, Integer channels) {
    return new EvaluationSuite.Data(
        null, p.toString(), "folder", null, null, null, size, channels, null);
  }

  /** Two RGB images 2x3 (HxW): value of (n, c, h, w) = (n*100 + c*10 + h*3 + w) / 255. */
  static float value(int n, int c, int h, int w) {
    return (n * 100 + c * 10 + h * 3 + w) / 255f;
  }

  @Test
  void nchwFloatNhwcUint8AndNhwGiveTheSameNchwImages() {
    float[] nchw = new float[2 * 3 * 2 * 3];
    byte[] nhwc = new byte[nchw.length];
    for (int n = 0; n < 2; n++) {
      for (int c = 0; c < 3; c++) {
        for (int h = 0; h < 2; h++) {
          for (int w = 0; w < 3; w++) {
            nchw[((n * 3 + c) * 2 + h) * 3 + w] = value(n, c, h, w);
            nhwc[((n * 2 + h) * 3 + w) * 3 + c] = (byte) Math.round(value(n, c, h, w) * 255);
          }
        }
      }
    }
    Npy.writeFloat32(dir.resolve("a.npy"), nchw, 2, 3, 2, 3);
    Npy.writeUint8(dir.resolve("b.npy"), nhwc, 2, 2, 3, 3);
    Npy.writeInt64(dir.resolve("y.npy"), new long[] {4, 1}, 2);
    TestSets.TestSet a =
        TestSets.load(npy(dir.resolve("a.npy"), dir.resolve("y.npy"), "nchw"), null);
    TestSets.TestSet b = TestSets.load(npy(dir.resolve("b.npy"), dir.resolve("y.npy"), null), null);
    assertArrayEquals(nchw, a.data().pixels(), 1e-7f);
    assertArrayEquals(nchw, b.data().pixels(), 1e-7f);
    assertEquals("NHWC uint8 (2,2,3,3)", b.source().layout());
    assertEquals(5, b.data().numClasses()); // max label + 1 until a model says more
    assertTrue(b.classCountFromLabels());
    assertEquals(10, b.withClassCount(10).data().numClasses());
    // (N,H,W) is grey
    Npy.writeFloat32(dir.resolve("g.npy"), new float[] {0, 0.5f, 1, 0.25f, 0, 0, 0, 0}, 2, 2, 2);
    TestSets.TestSet g = TestSets.load(npy(dir.resolve("g.npy"), dir.resolve("y.npy"), null), null);
    assertEquals(1, g.data().channels());
    assertEquals(0.25f, g.data().pixels()[3]);
  }

  @Test
  void ambiguousOrBadArraysAreClearErrors() {
    Npy.writeFloat32(dir.resolve("amb.npy"), new float[2 * 3 * 3 * 3], 2, 3, 3, 3);
    Npy.writeInt64(dir.resolve("y.npy"), new long[] {0, 1}, 2);
    String m =
        assertThrows(
                DatasetException.class,
                () -> TestSets.load(npy(dir.resolve("amb.npy"), dir.resolve("y.npy"), null), null))
            .getMessage();
    assertTrue(m.contains("set data.layout to nchw or nhwc"), m);
    Npy.writeInt64(dir.resolve("neg.npy"), new long[] {0, -1}, 2);
    m =
        assertThrows(
                DatasetException.class,
                () ->
                    TestSets.load(
                        npy(dir.resolve("amb.npy"), dir.resolve("neg.npy"), "nchw"), null))
            .getMessage();
    assertTrue(m.contains("label 1 is -1, not a class index"), m);
    Npy.writeFloat32(dir.resolve("fy.npy"), new float[] {0, 1}, 2);
    m =
        assertThrows(
                DatasetException.class,
                () ->
                    TestSets.load(npy(dir.resolve("amb.npy"), dir.resolve("fy.npy"), "nchw"), null))
            .getMessage();
    assertTrue(m.contains("must be an int64, int32 or uint8 array"), m);
    Npy.writeInt64(dir.resolve("ix.npy"), new long[4], 1, 1, 2, 2);
    m =
        assertThrows(
                DatasetException.class,
                () -> TestSets.load(npy(dir.resolve("ix.npy"), dir.resolve("y.npy"), null), null))
            .getMessage();
    assertTrue(m.contains("must be uint8 (0-255) or float32/float64 in [0,1]"), m);
  }

  @Test
  void npzArchivesWithDefaultAndNamedArrays() throws IOException {
    Npy.writeFloat32(dir.resolve("x.npy"), new float[] {0.1f, 0.2f, 0.3f, 0.4f}, 2, 1, 1, 2);
    Npy.writeInt64(dir.resolve("y.npy"), new long[] {1, 0}, 2);
    Path npz = dir.resolve("t.npz");
    try (ZipOutputStream z = new ZipOutputStream(Files.newOutputStream(npz))) {
      for (String n : List.of("x_test", "y_test")) {
        z.putNextEntry(new ZipEntry(n + ".npy"));
        z.write(Files.readAllBytes(dir.resolve(n.substring(0, 1) + ".npy")));
        z.closeEntry();
      }
    }
    EvaluationSuite.Data d =
        new EvaluationSuite.Data(null, npz.toString(), "npz", null, null, null, null, null, null);
    String m = assertThrows(DatasetException.class, () -> TestSets.load(d, null)).getMessage();
    assertTrue(m.contains("has no array 'x' (it holds [x_test, y_test])"), m);
    TestSets.TestSet t =
        TestSets.load(
            new EvaluationSuite.Data(
                null, npz.toString(), "npz", "x_test", "y_test", null, null, null, null),
            null);
    assertArrayEquals(new int[] {1, 0}, t.data().labels());
    assertEquals(dev.arat.specs.Sha256.ofFile(npz), t.source().sha256());
    assertEquals(1, t.source().files());
  }

  /**
   * numpy's own files (float64 NHWC, savez_compressed, uint8 labels) read the same; skipped without
   * numpy.
   */
  @Test
  void numpyWrittenFilesWhenPythonIsPresent() throws Exception {
    Path py = Python.assumeModules("numpy");
    String script =
        String.join(
            "\n",
            "import numpy as np, sys",
            "d = sys.argv[1]",
            "x = (np.arange(2*4*4*3).reshape(2,4,4,3) % 256) / 255.0",
            "np.save(d + '/x64.npy', x)",
            "np.save(d + '/y8.npy', np.array([3, 7], dtype=np.uint8))",
            "np.savez_compressed(d + '/c.npz', x=x.astype(np.float32), y=np.array([3, 7], dtype=np.int32))",
            "");
    Files.writeString(dir.resolve("make.py"), script);
    Process p =
        new ProcessBuilder(py.toString(), dir.resolve("make.py").toString(), dir.toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, out);
    TestSets.TestSet a =
        TestSets.load(npy(dir.resolve("x64.npy"), dir.resolve("y8.npy"), null), null);
    TestSets.TestSet b =
        TestSets.load(
            new EvaluationSuite.Data(
                null, dir.resolve("c.npz").toString(), "npz", null, null, null, null, null, null),
            null);
    assertEquals(3, a.data().channels());
    assertEquals("NHWC float64 (2,4,4,3)", a.source().layout());
    assertArrayEquals(a.data().pixels(), b.data().pixels());
    assertArrayEquals(new int[] {3, 7}, b.data().labels());
    // (n=0, c=1, h=0, w=2) of NHWC = element 2*3 + 1 = 7
    assertEquals(7 / 255f, a.data().pixels()[16 + 2], 1e-7f);
  }

  static void png(Path f, int w, int h, boolean grey, int v) throws IOException {
    BufferedImage img =
        new BufferedImage(w, h, grey ? BufferedImage.TYPE_BYTE_GRAY : BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        if (grey) {
          img.getRaster().setSample(x, y, 0, v);
        } else {
          img.setRGB(x, y, (v << 16) | (v << 8) | v);
        }
      }
    }
    Files.createDirectories(f.getParent());
    assertTrue(ImageIO.write(img, "png", f.toFile()));
  }

  @Test
  void imageFoldersKeepTheirSizeAndChannelsUnlessTold() throws Exception {
    Path root = dir.resolve("imgs");
    png(root.resolve("a/1.png"), 5, 4, true, 10);
    png(root.resolve("a/2.png"), 5, 4, true, 20);
    png(root.resolve("b/1.png"), 5, 4, true, 30);
    TestSets.TestSet t = TestSets.load(folder(root, null, null), null);
    assertEquals(1, t.data().channels());
    assertEquals(4, t.data().height());
    assertEquals(5, t.data().width());
    assertEquals(3, t.data().size());
    assertArrayEquals(new int[] {0, 0, 1}, t.data().labels());
    assertEquals(20 / 255f, t.data().pixels()[20]);
    // the digest is sha256sum's listing of the files, sorted by relative path, hashed
    StringBuilder listing = new StringBuilder();
    for (String f : List.of("a/1.png", "a/2.png", "b/1.png")) {
      listing.append(hex(Files.readAllBytes(root.resolve(f)))).append("  ").append(f).append('\n');
    }
    assertEquals(hex(listing.toString().getBytes(StandardCharsets.UTF_8)), t.source().sha256());
    assertEquals(sha256sumOfFolder(root, t.source().sha256()), t.source().sha256());

    // an RGB image makes the set RGB; a different size needs image_size
    png(root.resolve("b/2.png"), 5, 4, false, 40);
    assertEquals(3, TestSets.load(folder(root, null, null), null).data().channels());
    assertEquals(1, TestSets.load(folder(root, null, 1), null).data().channels());
    png(root.resolve("b/3.png"), 8, 8, true, 50);
    String m =
        assertThrows(DatasetException.class, () -> TestSets.load(folder(root, null, null), null))
            .getMessage();
    assertTrue(m.contains("images differ in size") && m.contains("set data.image_size"), m);
    TestSets.TestSet r = TestSets.load(folder(root, 6, 1), null);
    assertEquals(6, r.data().height());
    assertEquals(6, r.data().width());

    // train/ + test/: only test/ is read, classes from train/
    Path split = dir.resolve("split");
    png(split.resolve("train/x/1.png"), 3, 3, true, 1);
    png(split.resolve("train/y/1.png"), 3, 3, true, 2);
    png(split.resolve("train/z/1.png"), 3, 3, true, 3);
    png(split.resolve("test/z/9.png"), 3, 3, true, 4);
    png(split.resolve("test/x/9.png"), 3, 3, true, 5);
    TestSets.TestSet s = TestSets.load(folder(split, null, null), null);
    assertEquals(3, s.data().numClasses());
    assertArrayEquals(new int[] {0, 2}, s.data().labels());
    assertTrue(s.source().layout().startsWith("class folders in test"), s.source().layout());
  }

  /** The documented shell command, when sha256sum is installed; else the expected value. */
  private static String sha256sumOfFolder(Path root, String fallback) throws Exception {
    Path sh = Path.of("/bin/sh");
    if (!Files.isExecutable(sh) || !Files.isExecutable(Path.of("/usr/bin/sha256sum"))) {
      return fallback;
    }
    Process p =
        new ProcessBuilder(
                sh.toString(),
                "-c",
                "cd \"$0\" && find . -type f \\( -iname '*.png' -o -iname '*.jpg' -o -iname '*.jpeg' \\) | sed 's|^\\./||'"
                    + " | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1",
                root.toString())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    return out;
  }

  private static String hex(byte[] b) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
  }

  @Test
  void idxPairsOfAnySize() throws Exception {
    java.nio.ByteBuffer im = java.nio.ByteBuffer.allocate(16 + 3 * 2 * 5);
    im.putInt(0x803).putInt(3).putInt(2).putInt(5);
    for (int i = 0; i < 30; i++) {
      im.put((byte) (i * 8));
    }
    java.nio.ByteBuffer lb = java.nio.ByteBuffer.allocate(8 + 3);
    lb.putInt(0x801).putInt(3).put((byte) 2).put((byte) 0).put((byte) 11);
    Files.write(dir.resolve("im"), im.array());
    Files.write(dir.resolve("lb"), lb.array());
    TestSets.TestSet t =
        TestSets.load(
            new EvaluationSuite.Data(
                null,
                null,
                "idx",
                dir.resolve("im").toString(),
                dir.resolve("lb").toString(),
                null,
                null,
                null,
                null),
            null);
    assertEquals(2, t.data().height());
    assertEquals(5, t.data().width());
    assertEquals(12, t.data().numClasses());
    assertEquals(8 / 255f, t.data().pixels()[1]);
    assertEquals("idx", t.source().kind());
    assertEquals(2, t.source().files());
    Files.write(dir.resolve("lb"), java.util.Arrays.copyOf(lb.array(), 10));
    String m =
        assertThrows(
                DatasetException.class,
                () ->
                    TestSets.load(
                        new EvaluationSuite.Data(
                            null,
                            null,
                            "idx",
                            dir.resolve("im").toString(),
                            dir.resolve("lb").toString(),
                            null,
                            null,
                            null,
                            null),
                        null))
            .getMessage();
    assertTrue(m.contains("truncated"), m);
  }
}
