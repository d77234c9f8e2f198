package dev.arat.evaluator.run;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.attack.GradientClassifier;
import dev.arat.data.Datasets;
import dev.arat.data.ImageDataset;
import dev.arat.data.Split;
import dev.arat.data.TestSets;
import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.Fixtures;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportFiles;
import dev.arat.evaluator.report.Wilson;
import dev.arat.onnx.OnnxModels;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.Npy;
import dev.arat.specs.Specs;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Evaluation end to end on the user's own test sets (a uint8 NHWC {@code .npy} pair and a folder of
 * 28x28 grey PNGs, both generated here from the synthetic test split), the dataset digest in the
 * report, and the saved adversarial examples: written, complete after a resume and a merge,
 * breaking the model again on replay, and giving another model's transfer accuracy.
 */
class ByoDataEvaluationTest {
  static final int N = 120;

  /** The first {@link #N} synthetic test images quantised to 8 bits, with labels. */
  static ImageDataset quantised() {
    ImageDataset t = Datasets.load("synthetic", null, Split.TEST);
    int[] first = new int[N];
    for (int i = 0; i < N; i++) {
      first[i] = i;
    }
    ImageDataset s = t.subset(first);
    float[] px = s.pixels().clone();
    for (int i = 0; i < px.length; i++) {
      px[i] = Math.round(px[i] * 255) / 255f;
    }
    return new ImageDataset("q", 1, 28, 28, 10, s.classNames(), px, s.labels());
  }

  /** Writes x as uint8 (N,28,28,1) (NHWC) and y as int64 (N). */
  static void writeNpy(ImageDataset d, Path x, Path y) {
    byte[] b = new byte[d.pixels().length];
    for (int i = 0; i < b.length; i++) {
      b[i] = (byte) Math.round(d.pixels()[i] * 255);
    }
    Npy.writeUint8(x, b, d.size(), 28, 28, 1);
    long[] labels = Arrays.stream(d.labels()).asLongStream().toArray();
    Npy.writeInt64(y, labels, d.size());
  }

  /** Writes every image as an 8-bit grey PNG into {@code root/<label>/<index>.png}. */
  static void writePngs(ImageDataset d, Path root) throws IOException {
    for (int i = 0; i < d.size(); i++) {
      BufferedImage img = new BufferedImage(28, 28, BufferedImage.TYPE_BYTE_GRAY);
      for (int r = 0; r < 28; r++) {
        for (int c = 0; c < 28; c++) {
          img.getRaster().setSample(c, r, 0, Math.round(d.pixels()[i * 784 + r * 28 + c] * 255));
        }
      }
      Path f = root.resolve(Integer.toString(d.labels()[i])).resolve(String.format("%04d.png", i));
      Files.createDirectories(f.getParent());
      assertTrue(ImageIO.write(img, "png", f.toFile()));
    }
  }

  static Path model(Path dir) {
    Path file = dir.resolve("model.onnx");
    OnnxModels.save(Fixtures.onnx(Fixtures.syntheticNearestMean(), false, false), file);
    return file;
  }

  /** Deterministic attacks (FGSM, PGD without random start): results depend on the images only. */
  static EvaluationSuite suite(String data) {
    return Specs.parse(
        String.join(
            "\n",
            "name: byo",
            "data: " + data,
            "samples: " + N,
            "seed: 3",
            "batch_size: 32",
            "threat_model: {norm: Linf, epsilon: 0.1}",
            "attacks: [{type: fgsm}, {type: pgd, steps: 10, step_size: 0.02, random_start: false}]",
            ""),
        EvaluationSuite.class,
        "byo.yaml");
  }

  static SuiteRunner runner() {
    return SuiteRunner.builder().optThreads(1).optGallery(false).build();
  }

  @Test
  void npyPairAndGreyPngFolderGiveTheSameVerdictAndNameTheirSource(@TempDir Path dir)
      throws IOException {
    ImageDataset d = quantised();
    Path x = dir.resolve("x.npy");
    Path y = dir.resolve("y.npy");
    writeNpy(d, x, y);
    writePngs(d, dir.resolve("pngs"));
    Path model = model(dir);

    Report npy =
        runner()
            .run(
                model,
                suite("{format: npy, x: '" + x + "', y: '" + y + "'}"),
                null,
                dir.resolve("a"));
    Report png =
        runner()
            .run(
                model,
                suite("{format: folder, path: '" + dir.resolve("pngs") + "'}"),
                null,
                dir.resolve("b"));
    assertTrue(npy.cleanAccuracy() > 0.8, "clean " + npy.cleanAccuracy());
    assertTrue(npy.robustCount() < npy.cleanCorrect(), "eps 0.1 should break some samples");
    // the same images in another order: the same counts (the attacks are deterministic per image)
    assertEquals(npy.cleanCorrect(), png.cleanCorrect());
    assertEquals(npy.robustCount(), png.robustCount());

    // --data DIR with a suite and a model that name no dataset: DIR is the user's image folder
    EvaluationSuite noData =
        Specs.parse(
            String.join(
                "\n",
                "samples: " + N,
                "seed: 3",
                "threat_model: {norm: Linf, epsilon: 0.1}",
                "attacks: [{type: fgsm}, {type: pgd, steps: 10, step_size: 0.02, random_start: false}]",
                ""),
            EvaluationSuite.class,
            "nodata.yaml");
    Report byDir = runner().run(model, noData, dir.resolve("pngs"), null);
    assertEquals("folder", byDir.dataset().source().kind());
    assertEquals(png.robustCount(), byDir.robustCount());

    TestSets.Source a = npy.dataset().source();
    assertEquals("npy", a.kind());
    assertEquals(x.toString(), a.path());
    assertEquals("NHWC uint8 (120,28,28,1)", a.layout());
    assertEquals(TestSets.digest(java.util.List.of(x, y), null), a.sha256());
    TestSets.Source b = png.dataset().source();
    assertEquals("folder", b.kind());
    assertEquals(N, b.files());
    assertTrue(b.layout().contains("grey, 28x28 as stored"), b.layout());
    assertEquals(64, b.sha256().length());
    // the digest is in report.json and report.md
    ReportFiles.writeAll(png, dir.resolve("b"));
    assertTrue(Files.readString(dir.resolve("b/report.json")).contains(b.sha256()));
    assertTrue(Files.readString(dir.resolve("b/report.md")).contains(b.sha256()));
    // one changed pixel changes the digest
    Path first = dir.resolve("pngs").resolve(Integer.toString(d.labels()[0])).resolve("0000.png");
    BufferedImage img = ImageIO.read(first.toFile());
    img.getRaster().setSample(0, 0, 0, (img.getRaster().getSample(0, 0, 0) + 1) % 256);
    assertTrue(ImageIO.write(img, "png", first.toFile()));
    Report changed =
        runner()
            .run(model, suite("{format: folder, path: '" + dir.resolve("pngs") + "'}"), null, null);
    assertNotEquals(b.sha256(), changed.dataset().source().sha256());
  }

  @Test
  void adversarialExamplesAreSavedAndBreakTheModelAgain(@TempDir Path dir) {
    ImageDataset d = quantised();
    Path x = dir.resolve("x.npy");
    Path y = dir.resolve("y.npy");
    writeNpy(d, x, y);
    Path model = model(dir);
    EvaluationSuite s = suite("{format: npy, x: '" + x + "', y: '" + y + "'}");
    Report r = runner().run(model, s, null, dir.resolve("out"));
    Path adv = dir.resolve("out").resolve(Evidence.IMAGES);
    Replay.Examples ex = Replay.read(adv);
    int broken = r.cleanCorrect() - r.robustCount();
    assertTrue(broken > 0);
    assertEquals(broken, ex.images().n());
    // every example is within budget of its clean image, and the saved prediction is the model's
    GradientClassifier java = Fixtures.java(Fixtures.syntheticNearestMean());
    float[] z = java.logits(ex.images());
    for (int i = 0; i < ex.images().n(); i++) {
      int idx = (int) ex.indices()[i];
      assertEquals(d.labels()[idx], ex.labels()[i]);
      assertNotEquals(ex.labels()[i], ex.predictions()[i]);
      double linf = 0;
      for (int j = 0; j < 784; j++) {
        linf =
            Math.max(linf, Math.abs(ex.images().data()[i * 784 + j] - d.pixels()[idx * 784 + j]));
      }
      assertTrue(linf <= 0.1 * (1 + 1e-4), "Linf " + linf);
      assertEquals(ex.predictions()[i], argmax(z, i * 10, 10));
    }
    // replayed on the same model (through ONNX Runtime) they break it again: accuracy 0
    try (OrtClassifier same = OrtClassifier.open(model, 1)) {
      Replay.Result again = Replay.score(same, model.toString(), null, adv.toString(), ex, 16);
      assertEquals(0, again.correct());
      assertEquals(broken, again.samePrediction());
      assertEquals(Wilson.interval95(0, broken).high(), again.accuracyCi95().high(), 1e-12);
    }
  }

  @Test
  void replayOnAnotherModelGivesItsTransferAccuracy(@TempDir Path dir) {
    ImageDataset d = quantised();
    Path x = dir.resolve("x.npy");
    Path y = dir.resolve("y.npy");
    writeNpy(d, x, y);
    Path model = model(dir);
    runner()
        .run(
            model,
            suite("{format: npy, x: '" + x + "', y: '" + y + "'}"),
            null,
            dir.resolve("out"));
    Replay.Examples ex = Replay.read(dir.resolve("out").resolve(Evidence.IMAGES));

    // another model: the same class means with a 4x steeper scale and shifted biases
    dev.arat.onnx.testsupport.LinearModel base = Fixtures.syntheticNearestMean();
    float[] w = base.w().clone();
    float[] b = base.b().clone();
    for (int i = 0; i < w.length; i++) {
      w[i] *= 4;
    }
    for (int c = 0; c < b.length; c++) {
      b[c] = 4 * b[c] + 0.3f * (c % 3);
    }
    dev.arat.onnx.testsupport.LinearModel other =
        new dev.arat.onnx.testsupport.LinearModel(w, b, base.k(), base.d());
    Path otherFile = dir.resolve("other.onnx");
    OnnxModels.save(Fixtures.onnx(other, true, false), otherFile);
    float[] z = Fixtures.java(other).logits(ex.images());
    int expected = 0;
    for (int i = 0; i < ex.images().n(); i++) {
      expected += argmax(z, i * 10, 10) == ex.labels()[i] ? 1 : 0;
    }
    try (OrtClassifier o = OrtClassifier.open(otherFile, 1)) {
      Replay.Result t = Replay.score(o, otherFile.toString(), null, "adv", ex, 7);
      assertEquals(expected, t.correct());
      assertEquals((double) expected / ex.images().n(), t.accuracy(), 1e-12);
      assertTrue(t.correct() > 0, "the other model should resist some examples");
    }
  }

  @Test
  void evidenceSurvivesResumeAndMerge(@TempDir Path dir) throws IOException {
    ImageDataset d = quantised();
    Path x = dir.resolve("x.npy");
    Path y = dir.resolve("y.npy");
    writeNpy(d, x, y);
    Path model = model(dir);
    EvaluationSuite s = suite("{format: npy, x: '" + x + "', y: '" + y + "'}");
    runner().run(model, s, null, dir.resolve("single"));
    // an interrupted run (stopped during the second attack) resumed into the same folder
    class Stop extends RuntimeException {}
    assertThrows(
        Stop.class,
        () ->
            SuiteRunner.builder()
                .optThreads(1)
                .optGallery(false)
                .optListener(
                    new dev.arat.attack.Cascade.Listener() {
                      @Override
                      public void progress(int index, int done, int todo) {
                        if (index == 1) {
                          throw new Stop();
                        }
                      }
                    })
                .build()
                .run(model, s, null, dir.resolve("resumed")));
    runner().run(model, s, null, dir.resolve("resumed"));
    for (int k = 1; k <= 2; k++) {
      SuiteRunner.builder()
          .optThreads(1)
          .optGallery(false)
          .optShard(k + "/2")
          .build()
          .run(model, s, null, dir.resolve("s" + k));
    }
    Merge.mergeAndWrite(
        java.util.List.of(dir.resolve("s1"), dir.resolve("s2")), null, dir.resolve("merged"));
    for (String f :
        new String[] {Evidence.IMAGES, Evidence.INDICES, Evidence.LABELS, Evidence.PREDICTIONS}) {
      byte[] want = Files.readAllBytes(dir.resolve("single").resolve(f));
      assertArrayEquals(
          want, Files.readAllBytes(dir.resolve("resumed").resolve(f)), f + " after resume");
      assertArrayEquals(
          want, Files.readAllBytes(dir.resolve("merged").resolve(f)), f + " after merge");
    }
    // the switch turns it off (another evaluation: a fresh folder)
    runner().run(model, s.withSaveAdversarial(false), null, dir.resolve("off"));
    assertTrue(Files.exists(dir.resolve("off").resolve(Ledger.FILE)));
    assertTrue(!Files.exists(dir.resolve("off").resolve(Evidence.IMAGES)));
  }

  @Test
  void badArraysAreClearInputErrors(@TempDir Path dir) {
    ImageDataset d = quantised();
    Path x = dir.resolve("x.npy");
    Path y = dir.resolve("y.npy");
    writeNpy(d, x, y);
    Path model = model(dir);
    // float images outside [0,1] (normalised data)
    float[] f = d.pixels().clone();
    f[5] = 1.7f;
    Path xf = dir.resolve("xf.npy");
    Npy.writeFloat32(xf, f, N, 1, 28, 28);
    var e =
        assertThrows(
            dev.arat.data.DatasetException.class,
            () ->
                runner()
                    .run(
                        model,
                        suite("{format: npy, x: '" + xf + "', y: '" + y + "'}"),
                        null,
                        null));
    assertTrue(
        e.getMessage().contains("pixels must be in [0,1]") && e.getMessage().contains("image 0"),
        e.getMessage());
    // label count mismatch
    Path y2 = dir.resolve("y2.npy");
    Npy.writeInt64(y2, new long[] {1, 2, 3}, 3);
    e =
        assertThrows(
            dev.arat.data.DatasetException.class,
            () ->
                runner()
                    .run(
                        model,
                        suite("{format: npy, x: '" + x + "', y: '" + y2 + "'}"),
                        null,
                        null));
    assertTrue(
        e.getMessage().contains("has 3 labels but") && e.getMessage().contains("120 images"),
        e.getMessage());
    // NaN
    f = d.pixels().clone();
    f[800] = Float.NaN;
    Npy.writeFloat32(xf, f, N, 1, 28, 28);
    e =
        assertThrows(
            dev.arat.data.DatasetException.class,
            () ->
                runner()
                    .run(
                        model,
                        suite("{format: npy, x: '" + xf + "', y: '" + y + "'}"),
                        null,
                        null));
    assertTrue(e.getMessage().contains("image 1 holds NaN"), e.getMessage());
    // labels beyond the model's classes
    long[] big = new long[N];
    big[3] = 12;
    Npy.writeInt64(y2, big, N);
    EvaluationException ee =
        assertThrows(
            EvaluationException.class,
            () ->
                runner()
                    .run(
                        model,
                        suite("{format: npy, x: '" + x + "', y: '" + y2 + "'}"),
                        null,
                        null));
    assertTrue(ee.getMessage().contains("outputs 10 classes"), ee.getMessage());
    assertNotNull(ee.kind());
  }

  private static int argmax(float[] z, int off, int k) {
    int best = 0;
    for (int c = 1; c < k; c++) {
      if (z[off + c] > z[off + best]) {
        best = c;
      }
    }
    return best;
  }
}
