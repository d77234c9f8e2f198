package dev.arat.trainer.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.arat.attack.ImageBatch;
import dev.arat.data.ImageDataset;
import dev.arat.data.SyntheticDataset;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Architectures;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.LayerSpec;
import dev.arat.specs.Specs;
import dev.arat.specs.Tensor;
import dev.arat.specs.TrainingRecipe;
import dev.arat.specs.TrainingState;
import dev.arat.trainer.TrainedNetwork;
import dev.arat.trainer.nn.SplitBnNetwork.Branch;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SplitBnNetworkTest {
  static final ArchitectureSpec SMALL =
      Architectures.smallCnn(1, 28, 28, 10, new float[] {0.3f}, new float[] {0.3f});

  static ImageBatch images(int n, long seed) {
    ImageDataset d = SyntheticDataset.generate(seed, n, 1, 28, 28, 10);
    return new ImageBatch(d.pixels(), n, 1, 28, 28);
  }

  static float[] logits(SplitBnNetwork net, ImageBatch x, Branch b) {
    return new NetworkClassifier(net, b, false).logits(x);
  }

  /** One train-mode forward per branch, so running statistics differ from their init. */
  static void warm(SplitBnNetwork net, ImageBatch x) {
    new NetworkClassifier(net, Branch.ADV, true).logits(x);
    ImageBatch y = x.with(x.data().clone());
    for (int i = 0; i < y.data().length; i++) {
      y.data()[i] = 1 - y.data()[i];
    }
    new NetworkClassifier(net, Branch.CLEAN, true).logits(y);
  }

  @Test
  void weightNamesAndShapesFollowTheContract() {
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork net = new SplitBnNetwork(SMALL, true, SMALL.taps(), 0.25, 1, m)) {
      Map<String, NDArray> p = net.parameters();
      assertEquals(new Shape(32, 1, 5, 5), p.get("conv1.weight").getShape());
      assertFalse(p.containsKey("conv1.bias"));
      for (String b : List.of("adv", "clean")) {
        for (String k : List.of("weight", "bias", "running_mean", "running_var")) {
          assertEquals(new Shape(64), p.get("bn2." + b + "." + k).getShape(), b + k);
        }
      }
      assertEquals(new Shape(256, 3136), p.get("fc1.weight").getShape());
      assertEquals(new Shape(256), p.get("fc1.bias").getShape());
      assertEquals(new Shape(10, 256), p.get("fc2.weight").getShape());
      assertEquals(new Shape(16, 64), p.get("predictor.bn2.fc1.weight").getShape());
      assertEquals(new Shape(16), p.get("predictor.bn2.bn.running_var").getShape());
      assertEquals(new Shape(64, 16), p.get("predictor.bn2.fc2.weight").getShape());
      assertEquals(new Shape(64), p.get("predictor.bn2.fc2.bias").getShape());
      assertEquals(new Shape(64, 256), p.get("predictor.fc1.fc1.weight").getShape());
      assertFalse(p.containsKey("predictor.bn2.fc1.bias"));
      assertEquals(Map.of("bn2", 64, "fc1", 256), net.tapDims());
      // PyTorch default init: uniform in +-1/sqrt(fan_in), BN gamma 1 beta 0.
      float[] w = p.get("conv1.weight").toFloatArray();
      double bound = 1 / Math.sqrt(25);
      double max = 0;
      for (float v : w) {
        max = Math.max(max, Math.abs(v));
      }
      assertTrue(max <= bound && max > 0.9 * bound, "max |w| " + max);
      assertArrayEquals(new float[64], p.get("bn2.adv.bias").toFloatArray());
      assertEquals(64f, p.get("bn2.clean.weight").sum().getFloat());
    }
  }

  @Test
  void singleBnStoresOnlyTheAdvSet() {
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork net = new SplitBnNetwork(SMALL, false, List.of(), 0, 1, m)) {
      assertTrue(net.parameters().containsKey("bn1.adv.weight"));
      assertFalse(net.parameters().keySet().stream().anyMatch(k -> k.contains(".clean.")));
      assertFalse(net.parameters().keySet().stream().anyMatch(k -> k.startsWith("predictor.")));
      ImageBatch x = images(4, 3);
      assertArrayEquals(logits(net, x, Branch.ADV), logits(net, x, Branch.CLEAN));
    }
  }

  @Test
  void checkpointRoundTripGivesIdenticalLogitsOnBothBranches(@TempDir Path dir) throws Exception {
    ImageBatch x = images(8, 5);
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork a = new SplitBnNetwork(SMALL, true, SMALL.taps(), 0.25, 11, m);
        SplitBnNetwork b = new SplitBnNetwork(SMALL, true, SMALL.taps(), 0.25, 12, m)) {
      warm(a, images(16, 6));
      TrainingRecipe recipe = Specs.parse("method: arat\n", TrainingRecipe.class, "test");
      new Checkpoint(
              SMALL,
              recipe,
              a.toTensors(),
              Map.of(),
              new TrainingState(1, 0, 10, 0.5, 0, Map.of("k", "v")))
          .write(dir.resolve("c"));
      Checkpoint read = Checkpoint.read(dir.resolve("c"));
      assertFalse(java.util.Arrays.equals(logits(a, x, Branch.ADV), logits(b, x, Branch.ADV)));
      b.load(read.weights());
      for (Branch br : Branch.values()) {
        assertArrayEquals(logits(a, x, br), logits(b, x, br), br.name());
      }
      assertFalse(java.util.Arrays.equals(logits(a, x, Branch.ADV), logits(a, x, Branch.CLEAN)));
      try (TrainedNetwork t = new TrainedNetwork(read)) {
        assertEquals(Branch.ADV, t.branch());
        assertArrayEquals(logits(a, x, Branch.ADV), t.logits(x));
      }
      try (TrainedNetwork t = new TrainedNetwork(read, Branch.CLEAN)) {
        assertArrayEquals(logits(a, x, Branch.CLEAN), t.logits(x));
      }
    }
  }

  @Test
  void loadRejectsMissingAndUnexpectedWeights() {
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork a = new SplitBnNetwork(SMALL, true, List.of(), 0, 1, m);
        SplitBnNetwork single = new SplitBnNetwork(SMALL, false, List.of(), 0, 1, m)) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> single.load(a.toTensors()));
      assertTrue(e.getMessage().contains("unexpected bn1.clean.weight"), e.getMessage());
      e = assertThrows(IllegalArgumentException.class, () -> a.load(single.toTensors()));
      assertTrue(e.getMessage().contains("missing bn1.clean.weight"), e.getMessage());
    }
  }

  @Test
  void splitBranchesAreIndependent() {
    ImageBatch x = images(8, 7);
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork net = new SplitBnNetwork(SMALL, true, List.of(), 0, 2, m)) {
      warm(net, images(16, 8));
      float[] adv = logits(net, x, Branch.ADV);
      float[] clean = logits(net, x, Branch.CLEAN);
      Map<String, Tensor> w = new LinkedHashMap<>(net.toTensors());
      for (String k : List.copyOf(w.keySet())) {
        if (k.contains(".clean.")) {
          Tensor t = w.get(k);
          float[] d = t.data().clone();
          for (int i = 0; i < d.length; i++) {
            d[i] = d[i] * 1.5f + 0.3f;
          }
          w.put(k, new Tensor(t.shape(), d));
        }
      }
      net.load(w);
      assertArrayEquals(adv, logits(net, x, Branch.ADV));
      assertFalse(java.util.Arrays.equals(clean, logits(net, x, Branch.CLEAN)));
      // Train-mode passes on the clean branch leave the adversarial branch untouched.
      new NetworkClassifier(net, Branch.CLEAN, true).logits(images(16, 9));
      assertArrayEquals(adv, logits(net, x, Branch.ADV));
    }
  }

  @Test
  void batchNormFollowsPyTorchMomentumAndUnbiasedVariance() {
    ArchitectureSpec spec =
        new ArchitectureSpec(
            "bn-only",
            1,
            2,
            2,
            2,
            new float[] {0f},
            new float[] {1f},
            List.of(
                new LayerSpec.BatchNorm("bn"),
                new LayerSpec.Flatten("f"),
                new LayerSpec.Linear("fc", 2, true)),
            List.of(),
            1e-5,
            0.1);
    float[] data = {1, 2, 3, 4, 0, 0, 1, 7};
    double mean = 18 / 8.0;
    double ss = 0;
    for (float v : data) {
      ss += (v - mean) * (v - mean);
    }
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork net = new SplitBnNetwork(spec, true, List.of(), 0, 1, m)) {
      new NetworkClassifier(net, Branch.ADV, true).logits(new ImageBatch(data, 2, 1, 2, 2));
      assertEquals(0.1 * mean, net.parameters().get("bn.adv.running_mean").getFloat(0), 1e-6);
      assertEquals(
          0.9 + 0.1 * ss / 7, net.parameters().get("bn.adv.running_var").getFloat(0), 1e-6);
      assertEquals(1f, net.parameters().get("bn.clean.running_var").getFloat(0));
      // Eval mode normalises with the running statistics and changes nothing.
      new NetworkClassifier(net, Branch.ADV, false).logits(new ImageBatch(data, 2, 1, 2, 2));
      assertEquals(0.1 * mean, net.parameters().get("bn.adv.running_mean").getFloat(0), 1e-6);
    }
  }
}
