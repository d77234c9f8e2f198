package dev.arat.exporter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.onnx.OnnxModels;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Architectures;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.LayerSpec;
import dev.arat.specs.LossHead;
import dev.arat.testsupport.OnnxChecker;
import dev.arat.testsupport.Python;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CIFAR architectures (ResNet-18, PreAct ResNet-18, a tiny WRN) export, run in ONNX Runtime,
 * agree folded vs unfolded and with an independent plain-Java forward pass, and pass Debian's onnx
 * checker.
 */
class ArchitectureExportTest {
  @TempDir Path dir;

  private static final float[] MEAN = {0.49f, 0.48f, 0.45f};
  private static final float[] STD = {0.25f, 0.24f, 0.26f};

  static ArchitectureSpec resnet18() {
    return Architectures.named("resnet18", 3, 32, 32, 10, MEAN, STD);
  }

  static ArchitectureSpec preact() {
    return Architectures.named("preact-resnet18", 3, 32, 32, 10, MEAN, STD);
  }

  static ArchitectureSpec tinyWrn() {
    return Architectures.wrn(10, 1, 3, 32, 32, 10, MEAN, STD);
  }

  private static ImageBatch images(int n, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    float[] px = new float[n * 3 * 32 * 32];
    for (int i = 0; i < px.length; i++) {
      px[i] = (float) rng.nextDouble();
    }
    return new ImageBatch(px, n, 3, 32, 32);
  }

  private static long count(ModelProto m, String op) {
    return m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals(op)).count();
  }

  /**
   * BN layers not directly after a conv/linear in the same list: those stay as nodes when folding.
   */
  private static long standaloneBn(List<LayerSpec> ls) {
    long n = 0;
    for (int i = 0; i < ls.size(); i++) {
      LayerSpec l = ls.get(i);
      if (l instanceof LayerSpec.BatchNorm
          && !(i > 0
              && (ls.get(i - 1) instanceof LayerSpec.Conv
                  || ls.get(i - 1) instanceof LayerSpec.Linear))) {
        n++;
      }
      if (l instanceof LayerSpec.Residual r) {
        n += standaloneBn(r.pre()) + standaloneBn(r.body()) + standaloneBn(r.shortcut());
      }
    }
    return n;
  }

  private static double maxAbs(float[] v) {
    double m = 0;
    for (float x : v) {
      assertTrue(Float.isFinite(x), "non-finite logit");
      m = Math.max(m, Math.abs(x));
    }
    return m;
  }

  private static double maxAbsDiff(float[] a, float[] b) {
    assertEquals(a.length, b.length);
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs((double) a[i] - b[i]));
    }
    return m;
  }

  /** Exports folded and unfolded, runs both in ORT and compares with the Java reference. */
  private void checkParity(ArchitectureSpec arch, long seed, long expectedStandaloneBn) {
    Checkpoint ck = RandomCheckpoints.of(arch, seed);
    ModelProto folded = new OnnxExporter(BnBranch.ADV, true).export(ck, Map.of());
    ModelProto kept = new OnnxExporter(BnBranch.ADV, false).export(ck, Map.of());
    long bnLayers = arch.allLayers().stream().filter(l -> l instanceof LayerSpec.BatchNorm).count();
    assertEquals(bnLayers, count(kept, "BatchNormalization"));
    assertEquals(expectedStandaloneBn, standaloneBn(arch.layers()));
    assertEquals(
        expectedStandaloneBn,
        count(folded, "BatchNormalization"),
        "only BNs that do not follow a conv stay as nodes");
    long residuals = arch.allLayers().stream().filter(l -> l instanceof LayerSpec.Residual).count();
    assertEquals(residuals, count(folded, "Add"));
    ImageBatch x = images(2, seed);
    // the naive reference is slow (~2 s per ResNet-18 image): image 0 only
    float[] ref = new ReferenceForward(arch, ck.weights(), "adv").logits(x.data(), 1);
    try (OrtClassifier f = new OrtClassifier(folded, "folded", 2);
        OrtClassifier k = new OrtClassifier(kept, "kept", 2)) {
      assertEquals(10, f.numClasses());
      float[] lf = f.logits(x);
      float[] lk = k.logits(x);
      double scale = maxAbs(ref);
      assertTrue(scale > 0.05, arch.name() + ": logits trivially small: " + scale);
      assertTrue(
          maxAbsDiff(lf, lk) <= 1e-4 * scale,
          arch.name()
              + ": folded vs unfolded differ by "
              + maxAbsDiff(lf, lk)
              + " at scale "
              + scale);
      float[] lk0 = java.util.Arrays.copyOf(lk, 10);
      float[] lf0 = java.util.Arrays.copyOf(lf, 10);
      assertTrue(
          maxAbsDiff(lk0, ref) <= 1e-4 * scale,
          arch.name()
              + ": ORT vs reference differ by "
              + maxAbsDiff(lk0, ref)
              + " at scale "
              + scale);
      assertTrue(
          maxAbsDiff(lf0, ref) <= 1e-4 * scale,
          arch.name() + ": folded ORT vs reference differ by " + maxAbsDiff(lf0, ref));
      // the clean branch is a different model
      try (OrtClassifier c =
          new OrtClassifier(
              new OnnxExporter(BnBranch.CLEAN, true).export(ck, Map.of()), "clean", 2)) {
        assertTrue(
            maxAbsDiff(c.logits(x), lf) > 1e-3 * scale, arch.name() + ": branches must differ");
      }
    }
  }

  @Test
  void resnet18ExportsWithAllBatchNormFolded() {
    checkParity(resnet18(), 11, 0);
  }

  @Test
  void preactResnet18KeepsPreActivationBatchNorm() {
    // 8 blocks with a pre BN each, plus the final BN; the body's bn2 follows conv1 and folds.
    checkParity(preact(), 12, 9);
  }

  @Test
  void tinyWrnExportsAndSupportsInputGradients() {
    ArchitectureSpec arch = tinyWrn();
    checkParity(arch, 13, 4); // 3 blocks' bn1 + final bn1
    ModelProto m = new OnnxExporter().export(RandomCheckpoints.of(arch, 13), Map.of());
    try (OrtClassifier c = new OrtClassifier(m, "wrn", 2)) {
      ImageBatch x = images(2, 5);
      LossGradient g = c.lossGradient(x, new int[] {1, 2}, null, LossHead.CE);
      assertEquals(2 * 3 * 32 * 32, g.gradient().length);
      assertTrue(maxAbs(g.gradient()) > 0, "the gradient must not vanish");
    }
  }

  @Test
  void preActShortcutWiringMatters() {
    // Feeding the identity shortcut the pre-activated input instead of the raw one changes the
    // logits: the reference forward (and so the parity above) would catch a wiring mistake.
    ArchitectureSpec arch = tinyWrn();
    Checkpoint ck = RandomCheckpoints.of(arch, 21);
    List<LayerSpec> rewired = new ArrayList<>();
    for (LayerSpec l : arch.layers()) {
      rewired.add(
          l instanceof LayerSpec.Residual r && r.shortcut().isEmpty()
              ? new LayerSpec.Residual(r.name(), r.pre(), r.body(), r.shortcut(), true)
              : l);
    }
    ArchitectureSpec wrong =
        new ArchitectureSpec(
            arch.name(),
            3,
            32,
            32,
            10,
            MEAN,
            STD,
            rewired,
            arch.taps(),
            arch.bnEpsilon(),
            arch.bnMomentum());
    ImageBatch x = images(2, 3);
    float[] a = new ReferenceForward(arch, ck.weights(), "adv").logits(x.data(), 2);
    float[] b = new ReferenceForward(wrong, ck.weights(), "adv").logits(x.data(), 2);
    assertTrue(maxAbsDiff(a, b) > 1e-3 * maxAbs(a));
  }

  @Test
  void debianOnnxCheckerAcceptsTheCifarModels() throws Exception {
    Python.assumeModules("onnx");
    List<Path> files = new ArrayList<>();
    int i = 0;
    for (ArchitectureSpec a : List.of(resnet18(), preact(), tinyWrn())) {
      Path file = dir.resolve((i++) + "-" + a.name() + ".onnx");
      OnnxModels.save(new OnnxExporter().export(RandomCheckpoints.of(a, 4), Map.of()), file);
      files.add(file);
    }
    OnnxChecker.assertAccepts(files);
  }
}
