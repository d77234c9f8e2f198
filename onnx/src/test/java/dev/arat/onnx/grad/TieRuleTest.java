package dev.arat.onnx.grad;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.specs.LossHead;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The documented tie rules: the gradient goes to the lowest index / first window maximum (for
 * MaxPool both on the disjoint-block path without Indices and on the Indices path).
 */
class TieRuleTest {

  /** logits = Flatten(input), input (N,1,1,K). */
  private static ModelProto identityLogits(int k) {
    GraphBuilder g = new GraphBuilder("id");
    String x = g.imageInput("input", 1, 1, k);
    g.output(g.node(Op.FLATTEN, x), "logits", Tensors.FLOAT, "N", k);
    return g.build(17);
  }

  private static float[] grad(
      ModelProto m, LossHead head, float[] x, long[] shape, long label, long target) {
    GradientGraph gg = new GradientGraphBuilder().build(m, head);
    Map<String, Object> in =
        new java.util.HashMap<>(
            Map.of(
                GradientGraphBuilder.INPUT, new OrtRunner.F(x, shape),
                GradientGraphBuilder.LABELS, new OrtRunner.L(new long[] {label}, 1)));
    if (head.targeted()) {
      in.put(GradientGraphBuilder.TARGETS, new OrtRunner.L(new long[] {target}, 1));
    }
    return OrtRunner.run(gg.model(), in).get(GradientGraphBuilder.INPUT_GRAD);
  }

  @Test
  void marginTieGoesToTheLowestOtherIndex() {
    float[] g =
        grad(
            identityLogits(4),
            LossHead.MARGIN,
            new float[] {0.5f, 0.9f, 0.9f, 0.1f},
            new long[] {1, 1, 1, 4},
            0,
            0);
    assertArrayEquals(new float[] {-1f, 1f, 0f, 0f}, g);
  }

  @Test
  void dlrTopKTieGoesToTheLowestIndex() {
    // z = [0.2, 0.9, 0.9, 0.5], y = 0: pi1 = 1 (tie with 2, lowest index first), pi3 = 3;
    // other = 1; num = 0.2 - 0.9 = -0.7; den = 0.9 - 0.5 = 0.4
    float[] g =
        grad(
            identityLogits(4),
            LossHead.DLR,
            new float[] {0.2f, 0.9f, 0.9f, 0.5f},
            new long[] {1, 1, 1, 4},
            0,
            0);
    double den = 0.4;
    double ratio = -0.7 / den;
    // dL = (-1/den)(e_y - e_other) + (ratio/den)(e_pi1 - e_pi3)
    float[] want = {
      (float) (-1 / den), (float) (1 / den + ratio / den), 0f, (float) (-ratio / den)
    };
    for (int i = 0; i < 4; i++) {
      assertEquals(want[i], g[i], 1e-4, "component " + i);
    }
  }

  @Test
  void maxPoolTieGoesToTheFirstElementOfTheWindow() {
    GraphBuilder g = new GraphBuilder("mp");
    String x = g.imageInput("input", 1, 2, 4);
    String p =
        g.node(
            Op.MAX_POOL,
            List.of(x),
            Map.of("kernel_shape", new long[] {2, 2}, "strides", new long[] {2, 2}));
    g.output(g.node(Op.FLATTEN, p), "logits", Tensors.FLOAT, "N", 2);
    float[] in = new float[8];
    java.util.Arrays.fill(in, 0.5f);
    float[] gr = grad(g.build(17), LossHead.MARGIN, in, new long[] {1, 1, 2, 4}, 0, 0);
    // windows: {0,1,4,5} -> index 0 gets -1, {2,3,6,7} -> index 2 gets +1 (delta 0: -0.0 is 0)
    assertArrayEquals(new float[] {-1f, 0f, 1f, 0f, 0f, 0f, 0f, 0f}, gr, 0f);
  }

  @Test
  void overlappingMaxPoolTieGoesToTheFirstElementOfEachWindow() {
    // kernel 2x2, stride 1 (Indices path): windows {0,1,4,5}, {1,2,5,6}, {2,3,6,7} all tied
    GraphBuilder g = new GraphBuilder("mp");
    String x = g.imageInput("input", 1, 2, 4);
    String p = g.node(Op.MAX_POOL, List.of(x), Map.of("kernel_shape", new long[] {2, 2}));
    g.output(g.node(Op.FLATTEN, p), "logits", Tensors.FLOAT, "N", 3);
    float[] in = new float[8];
    java.util.Arrays.fill(in, 0.5f);
    float[] gr = grad(g.build(17), LossHead.MARGIN, in, new long[] {1, 1, 2, 4}, 0, 0);
    // margin with y = 0: -1 to window 0 (index 0), +1 to window 1 (index 1, lowest other class)
    assertArrayEquals(new float[] {-1f, 1f, 0f, 0f, 0f, 0f, 0f, 0f}, gr, 0f);
  }
}
