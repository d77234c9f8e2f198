package dev.arat.onnx.grad;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.onnx.OnnxModels;
import dev.arat.specs.LossHead;
import dev.arat.specs.Npy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * torchvision's ResNet-18 as PyTorch exports it (random weights): the input gradient matches
 * PyTorch autograd's (relative error per sample at most 1e-4) for the CE and targeted DLR heads.
 * Skipped unless {@code /usr/bin/python3 onnx/fixtures/resnet18.py} has written its files to {@code
 * $ARAT_RESNET18_DIR} or {@code /tmp/arat-resnet18} (45 MB, so not committed).
 */
class ResNet18Test {
  static Path dir() {
    String d = System.getenv("ARAT_RESNET18_DIR");
    return Path.of(d != null ? d : "/tmp/arat-resnet18");
  }

  @Test
  void resnet18GradientMatchesPyTorch() {
    Path dir = dir();
    Assumptions.assumeTrue(
        Files.isRegularFile(dir.resolve("grad_ce.npy")),
        "run /usr/bin/python3 onnx/fixtures/resnet18.py first");
    ModelProto m = OnnxModels.load(dir.resolve("resnet18.onnx"));
    Npy.NpyArray x = Npy.read(dir.resolve("x.npy"));
    long[] y = Npy.read(dir.resolve("labels.npy")).longs();
    long[] t = Npy.read(dir.resolve("targets.npy")).longs();
    float[] refZ = Npy.read(dir.resolve("logits.npy")).floats();
    for (LossHead head : new LossHead[] {LossHead.CE, LossHead.DLR_TARGETED}) {
      GradientGraph gg = new GradientGraphBuilder().build(m, head);
      Map<String, Object> in = new HashMap<>();
      in.put(GradientGraphBuilder.INPUT, new OrtRunner.F(x.floats(), x.shape()));
      in.put(GradientGraphBuilder.LABELS, new OrtRunner.L(y, y.length));
      if (head.targeted()) {
        in.put(GradientGraphBuilder.TARGETS, new OrtRunner.L(t, t.length));
      }
      Map<String, float[]> out = OrtRunner.run(gg.model(), in);
      float[] z = out.get(GradientGraphBuilder.LOGITS);
      for (int i = 0; i < z.length; i++) {
        assertEquals(refZ[i], z[i], 1e-4, "logit " + i);
      }
      float[] g = out.get(GradientGraphBuilder.INPUT_GRAD);
      float[] ref = Npy.read(dir.resolve("grad_" + head.id() + ".npy")).floats();
      int per = g.length / y.length;
      for (int s = 0; s < y.length; s++) {
        double diff = 0;
        double norm = 0;
        for (int j = s * per; j < (s + 1) * per; j++) {
          diff += (g[j] - ref[j]) * (double) (g[j] - ref[j]);
          norm += ref[j] * (double) ref[j];
        }
        double rel = Math.sqrt(diff / norm);
        System.out.printf("resnet18 %s sample %d rel err %.2e%n", head, s, rel);
        assertTrue(rel <= 1e-4, head + " sample " + s + ": relative error " + rel);
      }
    }
  }
}
