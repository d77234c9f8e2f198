package dev.arat.evaluator;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.attack.GradientClassifier;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.attack.LossHeads;
import dev.arat.data.Datasets;
import dev.arat.data.ImageDataset;
import dev.arat.data.Split;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.specs.LossHead;
import java.util.List;
import java.util.Map;

/** Small models for evaluator tests: a nearest-class-mean linear classifier, in Java and as ONNX. */
public final class Fixtures {
  private Fixtures() {}

  /** Weights {@code (K,d)} and bias {@code (K)} of f(x) = Wx + b. */
  public record Linear(float[] w, float[] b, int k, int d) {}

  private static Linear synthetic;

  /** Nearest class mean on synthetic training data, scaled by {@code scale}: w_c = s*mu_c, b_c = -s*|mu_c|^2/2. */
  public static synchronized Linear syntheticNearestMean() {
    if (synthetic == null) {
      ImageDataset train = Datasets.load("synthetic", null, Split.TRAIN);
      int k = train.numClasses();
      int d = train.imageSize();
      double[] sum = new double[k * d];
      int[] count = new int[k];
      for (int i = 0; i < train.size(); i++) {
        int y = train.labels()[i];
        count[y]++;
        for (int j = 0; j < d; j++) {
          sum[y * d + j] += train.pixels()[i * d + j];
        }
      }
      float[] w = new float[k * d];
      float[] b = new float[k];
      float scale = 0.1f;
      for (int c = 0; c < k; c++) {
        double sq = 0;
        for (int j = 0; j < d; j++) {
          double mu = sum[c * d + j] / count[c];
          w[c * d + j] = (float) (scale * mu);
          sq += mu * mu;
        }
        b[c] = (float) (-scale * sq / 2);
      }
      synthetic = new Linear(w, b, k, d);
    }
    return synthetic;
  }

  /** The linear model as a plain-Java gradient classifier (exact gradients via {@link LossHeads}). */
  public static GradientClassifier java(Linear m) {
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
   * through Conv (kernels +1 and -1, bias 2), Relu and a Gemm on {@code [W/2, -W/2]}, the same function through
   * Conv and Relu; with {@code softmax} a final Softmax is appended.
   */
  public static ModelProto onnx(Linear m, boolean convRelu, boolean softmax) {
    GraphBuilder g = new GraphBuilder("linear");
    String x = g.imageInput("input", 1, 28, 28);
    String h;
    float[] w;
    int d;
    if (convRelu) {
      // relu(x + 2) - relu(2 - x) = 2x on [0,1], away from Relu's kink
      String kern = g.floatInitializer("conv.weight", new float[] {1f, -1f}, 2, 1, 1, 1);
      String bias = g.floatInitializer("conv.bias", new float[] {2f, 2f}, 2);
      String conv = g.node(Op.CONV, List.of(x, kern, bias), Map.of("kernel_shape", new long[] {1, 1}));
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
    String flat = g.node(Op.FLATTEN, List.of(h), Map.of("axis", 1L));
    String wt = g.floatInitializer("fc.weight", w, m.k(), d);
    String bt = g.floatInitializer("fc.bias", m.b(), m.k());
    String z = g.node(Op.GEMM, List.of(flat, wt, bt), Map.of("transB", 1L));
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
