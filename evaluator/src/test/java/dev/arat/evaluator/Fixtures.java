package dev.arat.evaluator;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.attack.GradientClassifier;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.attack.LossHeads;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.onnx.testsupport.LinearModel;
import dev.arat.specs.LossHead;
import java.util.List;
import java.util.Map;

/**
 * Small models for evaluator tests: a nearest-class-mean linear classifier, in Java and as ONNX.
 */
public final class Fixtures {
  private Fixtures() {}

  /**
   * The nearest-class-mean classifier of the synthetic training split ({@link
   * LinearModel#syntheticNearestMean}).
   */
  public static LinearModel syntheticNearestMean() {
    return LinearModel.syntheticNearestMean();
  }

  /**
   * The linear model as a plain-Java gradient classifier (exact gradients via {@link LossHeads}).
   */
  public static GradientClassifier java(LinearModel m) {
    return new GradientClassifier() {
      @Override
      public int numClasses() {
        return m.k();
      }

      @Override
      public float[] logits(ImageBatch x) {
        float[] z = new float[x.n() * m.k()];
        for (int i = 0; i < x.n(); i++) {
          for (int c = 0; c < m.k(); c++) {
            double s = m.b()[c];
            for (int j = 0; j < m.d(); j++) {
              s += (double) m.w()[c * m.d() + j] * x.data()[i * m.d() + j];
            }
            z[i * m.k() + c] = (float) s;
          }
        }
        return z;
      }

      @Override
      public LossGradient lossGradient(ImageBatch x, int[] labels, int[] targets, LossHead head) {
        float[] z = logits(x);
        float[] gz = LossHeads.logitGradient(head, z, m.k(), labels, targets);
        float[] g = new float[x.n() * m.d()];
        for (int i = 0; i < x.n(); i++) {
          for (int j = 0; j < m.d(); j++) {
            double s = 0;
            for (int c = 0; c < m.k(); c++) {
              s += (double) gz[i * m.k() + c] * m.w()[c * m.d() + j];
            }
            g[i * m.d() + j] = (float) s;
          }
        }
        return new LossGradient(z, LossHeads.value(head, z, m.k(), labels, targets), g);
      }
    };
  }

  /**
   * The linear model as ONNX on 1x28x28 input: Flatten, Gemm; with {@code convRelu} the input goes
   * through Conv (kernels +1 and -1, bias 2), Relu and a Gemm on {@code [W/2, -W/2]}, the same
   * function through Conv and Relu; with {@code softmax} a final Softmax is appended.
   */
  public static ModelProto onnx(LinearModel m, boolean convRelu, boolean softmax) {
    GraphBuilder g = new GraphBuilder("linear");
    String x = g.imageInput("input", 1, 28, 28);
    String h;
    float[] w;
    int d;
    if (convRelu) {
      // relu(x + 2) - relu(2 - x) = 2x on [0,1], away from Relu's kink
      String kern = g.floatInitializer("conv.weight", new float[] {1f, -1f}, 2, 1, 1, 1);
      String bias = g.floatInitializer("conv.bias", new float[] {2f, 2f}, 2);
      String conv =
          g.node(Op.CONV, List.of(x, kern, bias), Map.of("kernel_shape", new long[] {1, 1}));
      h = g.node(Op.RELU, conv);
      d = 2 * m.d();
      w = new float[m.k() * d];
      for (int c = 0; c < m.k(); c++) {
        for (int j = 0; j < m.d(); j++) {
          w[c * d + j] = 0.5f * m.w()[c * m.d() + j];
          w[c * d + m.d() + j] = -0.5f * m.w()[c * m.d() + j];
        }
      }
    } else {
      h = x;
      d = m.d();
      w = m.w();
    }
    String z = new LinearModel(w, m.b(), m.k(), d).addTo(g, h);
    if (softmax) {
      String p = g.node(Op.SOFTMAX, List.of(z), Map.of("axis", 1L));
      g.output(p, "probabilities", Tensors.FLOAT, "N", m.k());
    } else {
      g.output(z, "logits", Tensors.FLOAT, "N", m.k());
    }
    g.metadata("arat.test", "fixture");
    return g.build(17);
  }
}
