package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.attack.ImageBatch;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.exporter.BnBranch;
import dev.arat.exporter.OnnxExporter;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Architectures;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.Tensor;
import dev.arat.specs.TrainingRecipe;
import dev.arat.specs.TrainingState;
import dev.arat.trainer.TrainedNetwork;
import dev.arat.trainer.nn.SplitBnNetwork;
import dev.arat.trainer.nn.SplitBnNetwork.Branch;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The trainer's DJL network and the exporter's ONNX graph compute the same function for the
 * pre-activation architectures (PreAct ResNet-18, a WRN-10-1): split-BN checkpoints with random BN
 * affines and running statistics, both BN branches, eval mode. (Lives in the CLI module because it
 * is the first module that depends on trainer, exporter and evaluator.)
 */
class ArchitectureParityTest {
  private static final float[] MEAN = {0.49f, 0.48f, 0.45f};
  private static final float[] STD = {0.25f, 0.24f, 0.26f};

  @Test
  void preactResnet18Parity() {
    // PreAct ResNet-18 at 16x16 (any size works: the pooling is global), to keep the test fast
    parity(Architectures.named("preact-resnet18", 3, 16, 16, 10, MEAN, STD), "preact-resnet18");
  }

  @Test
  void wrn10x1Parity() {
    parity(Architectures.named("wrn-10-1", 3, 32, 32, 10, MEAN, STD), "wrn-10-1");
  }

  private static void parity(ArchitectureSpec spec, String name) {
    Map<String, Tensor> weights;
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork net =
            new SplitBnNetwork(
                spec, true, spec.taps(), 0.25, 7, m, SplitBnNetwork.Init.forArchitecture(name))) {
      weights = randomiseBn(net.toTensors(), 3);
    }
    TrainingRecipe recipe =
        new TrainingRecipe("arat", 7L, name, null, 1, null, null, null, null, null, null, null);
    Checkpoint ckpt =
        new Checkpoint(
            spec,
            recipe,
            weights,
            Map.of(),
            new TrainingState(1, 0, 1, 0.5, 0, Map.of("tool_version", "test")));
    ImageBatch x = images(4, spec, 11);
    for (Branch b : Branch.values()) {
      float[] djl;
      try (TrainedNetwork tn = new TrainedNetwork(ckpt, b)) {
        djl = tn.logits(x);
      }
      ModelProto model =
          new OnnxExporter(b == Branch.ADV ? BnBranch.ADV : BnBranch.CLEAN, true)
              .export(ckpt, Map.of());
      float[] ort;
      try (OrtClassifier oc = new OrtClassifier(model, name + " " + b, 2)) {
        ort = oc.logits(x);
      }
      assertEquals(djl.length, ort.length);
      double max = 0;
      double scale = 0;
      for (int i = 0; i < djl.length; i++) {
        max = Math.max(max, Math.abs(djl[i] - ort[i]));
        scale = Math.max(scale, Math.abs(djl[i]));
      }
      assertTrue(scale > 1e-3, "non-trivial logits");
      assertTrue(
          max <= 1e-4 * Math.max(1, scale),
          name + " " + b + ": max |DJL - ONNX| = " + max + " (logit scale " + scale + ")");
    }
  }

  /** Random BN affine (gamma in [0.5,1.5], beta in [-0.2,0.2]) and statistics per BN set. */
  private static Map<String, Tensor> randomiseBn(Map<String, Tensor> in, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (Map.Entry<String, Tensor> e : in.entrySet()) {
      String k = e.getKey();
      Tensor t = e.getValue();
      boolean bn = k.contains(".adv.") || k.contains(".clean.");
      if (!bn) {
        out.put(k, t);
        continue;
      }
      float[] d = new float[t.data().length];
      for (int i = 0; i < d.length; i++) {
        if (k.endsWith(".weight")) {
          d[i] = (float) rng.nextDouble(0.5, 1.5);
        } else if (k.endsWith(".bias")) {
          d[i] = (float) rng.nextDouble(-0.2, 0.2);
        } else if (k.endsWith(".running_mean")) {
          d[i] = (float) rng.nextDouble(-0.3, 0.3);
        } else {
          d[i] = (float) rng.nextDouble(0.5, 2.0);
        }
      }
      out.put(k, new Tensor(t.shape(), d));
    }
    return out;
  }

  private static ImageBatch images(int n, ArchitectureSpec s, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    float[] px = new float[n * s.channels() * s.height() * s.width()];
    for (int i = 0; i < px.length; i++) {
      px[i] = (float) rng.nextDouble();
    }
    return new ImageBatch(px, n, s.channels(), s.height(), s.width());
  }
}
