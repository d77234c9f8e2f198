package dev.arat.onnx.grad;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.onnx.OnnxModels;
import dev.arat.specs.LossHead;
import dev.arat.specs.Npy;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The PyTorch-exported fixtures ({@code onnx/fixtures/generate.py}): arat's input-gradient graph,
 * run by ONNX Runtime, matches PyTorch autograd's input gradient to a relative error of at most
 * 1e-4 per sample (float32), for every loss head; logits and losses match too.
 */
class FixtureAgreementTest {
  /** The required per-sample relative error of the input gradient. */
  static final double TOL = 1e-4;

  static Stream<Arguments> cases() {
    Stream.Builder<Arguments> s = Stream.builder();
    for (String m : new String[] {"resnet", "dwsep", "vit", "vit-opset14", "attn-meanpool"}) {
      for (LossHead h : LossHead.values()) {
        s.add(Arguments.of(m, h));
      }
    }
    return s.build();
  }

  static Path fixture(String model) throws Exception {
    return Path.of(
            FixtureAgreementTest.class.getResource("/fixtures/" + model + "/model.onnx").toURI())
        .getParent();
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("cases")
  void gradientMatchesPyTorch(String model, LossHead head) throws Exception {
    Path dir = fixture(model);
    ModelProto m = OnnxModels.load(dir.resolve("model.onnx"));
    Npy.NpyArray x = Npy.read(dir.resolve("x.npy"));
    long[] labels = Npy.read(dir.resolve("labels.npy")).longs();
    long[] targets = Npy.read(dir.resolve("targets.npy")).longs();
    float[] refLogits = Npy.read(dir.resolve("logits.npy")).floats();
    float[] refLoss = Npy.read(dir.resolve("loss_" + head.id() + ".npy")).floats();
    float[] refGrad = Npy.read(dir.resolve("grad_" + head.id() + ".npy")).floats();
    int n = (int) x.shape()[0];
    GradientGraph gg = new GradientGraphBuilder().build(m, head);
    Map<String, Object> in = new HashMap<>();
    in.put(GradientGraphBuilder.INPUT, new OrtRunner.F(x.floats(), x.shape()));
    in.put(GradientGraphBuilder.LABELS, new OrtRunner.L(labels, n));
    if (head.targeted()) {
      in.put(GradientGraphBuilder.TARGETS, new OrtRunner.L(targets, n));
    }
    Map<String, float[]> out = OrtRunner.run(gg.model(), in);
    float[] z = out.get(GradientGraphBuilder.LOGITS);
    float[] loss = out.get(GradientGraphBuilder.LOSS);
    float[] grad = out.get(GradientGraphBuilder.INPUT_GRAD);
    for (int i = 0; i < z.length; i++) {
      assertEquals(refLogits[i], z[i], 1e-4 * (1 + Math.abs(refLogits[i])), "logit " + i);
    }
    for (int i = 0; i < n; i++) {
      assertEquals(refLoss[i], loss[i], 1e-4 * (1 + Math.abs(refLoss[i])), "loss " + i);
    }
    int per = grad.length / n;
    double worst = 0;
    double total = 0;
    for (float v : refGrad) {
      total += v * (double) v;
    }
    double scale = Math.sqrt(total / n); // the typical per-sample gradient norm
    int checked = 0;
    for (int s = 0; s < n; s++) {
      double diff = 0;
      double norm = 0;
      for (int j = s * per; j < (s + 1) * per; j++) {
        diff += (grad[j] - refGrad[j]) * (double) (grad[j] - refGrad[j]);
        norm += refGrad[j] * (double) refGrad[j];
      }
      if (norm == 0) {
        // a truly flat sample (e.g. DLR with y = pi3 is the constant 1): ours must be ~0 too
        assertTrue(
            Math.sqrt(diff) <= TOL * scale,
            model
                + " "
                + head
                + " sample "
                + s
                + ": PyTorch's gradient is 0, ours has norm "
                + Math.sqrt(diff));
        continue;
      }
      double rel = Math.sqrt(diff / norm);
      worst = Math.max(worst, rel);
      checked++;
      assertTrue(rel <= TOL, model + " " + head + " sample " + s + ": relative error " + rel);
    }
    assertTrue(checked >= n - 1, "too many samples with a zero reference gradient");
    System.out.printf("fixture %-6s %-12s max per-sample rel err %.2e%n", model, head, worst);
  }
}
