package dev.arat.onnx.grad;

import static dev.arat.onnx.GraphIndex.floatAttr;
import static dev.arat.onnx.GraphIndex.intAttr;

import ai.onnx.proto.OnnxMl.NodeProto;
import dev.arat.onnx.OnnxModelException;
import dev.arat.onnx.Op;
import java.util.Arrays;

/**
 * Gradient rules of the normalisations, with inference semantics: BatchNormalization (running
 * statistics, so a per-channel scale) and LayerNormalization (its mean and inverse standard
 * deviation outputs are kept by {@link ForwardGraph}).
 */
final class NormRules {
  static void register(GradientRules.Table t) {
    t.add(NormRules::batchNormalization, "BatchNormalization");
    t.add(NormRules::layerNorm, "LayerNormalization");
  }

  private NormRules() {}

  static void batchNormalization(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    run.requireConstant(n, 1, 2, 3, 4);
    long[] xs = run.known(x, n, "input");
    float eps = floatAttr(n, "epsilon", 1e-5f);
    String factor =
        run.op(
            Op.DIV, n.getInput(1), run.op(Op.SQRT, run.op(Op.ADD, n.getInput(4), run.fconst(eps))));
    long[] shape = new long[Math.max(1, xs.length - 1)];
    Arrays.fill(shape, 1);
    shape[0] = -1;
    run.addGrad(x, run.op(Op.MUL, dy, run.op(Op.RESHAPE, factor, run.ivec(shape))));
  }

  static void layerNorm(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    run.requireConstant(n, 1, 2);
    long[] xs = run.known(x, n, "input");
    int a = Shapes.axis(n, intAttr(n, "axis", -1), xs.length);
    long count = 1;
    long[] axes = new long[xs.length - a];
    for (int i = a; i < xs.length; i++) {
      if (xs[i] < 0) {
        throw new OnnxModelException(
            "LayerNormalization node '"
                + n.getName()
                + "' normalises"
                + " over axis "
                + i
                + " of unknown size; its gradient needs fixed sizes");
      }
      count *= xs[i];
      axes[i - a] = i;
    }
    String mean = n.getOutput(1);
    String inv = n.getOutput(2);
    String xhat = run.op(Op.MUL, run.op(Op.SUB, x, mean), inv);
    String gs = run.op(Op.MUL, dy, n.getInput(1));
    String m1 = run.op(Op.MUL, run.sumKeepDims(gs, xs, axes), run.fconst(1f / count));
    String m2 =
        run.op(Op.MUL, run.sumKeepDims(run.op(Op.MUL, gs, xhat), xs, axes), run.fconst(1f / count));
    run.addGrad(
        x, run.op(Op.MUL, inv, run.op(Op.SUB, run.op(Op.SUB, gs, m1), run.op(Op.MUL, xhat, m2))));
  }
}
