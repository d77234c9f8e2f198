package dev.arat.onnx.grad;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.specs.LossHead;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;

/**
 * Test helper: checks an input-gradient model against the forward model, the loss formulas
 * (computed here in double) and central finite differences of the per-sample loss.
 *
 * <p>Finite differences: every input coordinate j of sample n is perturbed by +h and -h in its own
 * batch row, so one ORT call on the forward model gives all 2*numel losses; the derivative is
 * (L(x+h e_j) - L(x-h e_j)) / 2h with the losses accumulated in double from float32 logits.
 */
final class GradCheck {
  private GradCheck() {}

  /** Absolute slack of the kink detector: ~10x the float32 noise of a one-sided slope at h=1e-3. */
  static final double KINK_ABS = 1e-3;

  /** Relative slack of the kink detector (smooth functions differ by O(h * curvature)). */
  static final double KINK_REL = 0.02;

  /** At most this fraction of coordinates may be excluded as lying near a kink. */
  static final double MAX_KINK_FRACTION = 0.15;

  /** Outcome of one check, for assertions and messages. */
  record Result(
      double relErr, double gradNorm, double flippedRelErr, int kinks, float[] grad, float[] fd) {}

  /** The per-sample head value from logits z (length K), in double. */
  static double loss(LossHead head, float[] z, int off, int k, int y, int t) {
    return switch (head) { // exhaustive: a new head is a compile error here
      case CE, CE_TARGETED -> {
        double m = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < k; i++) {
          m = Math.max(m, z[off + i]);
        }
        double s = 0;
        for (int i = 0; i < k; i++) {
          s += Math.exp(z[off + i] - m);
        }
        double lse = m + Math.log(s);
        yield head == LossHead.CE ? lse - z[off + y] : z[off + t] - lse;
      }
      case MARGIN -> {
        double mo = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < k; i++) {
          if (i != y) {
            mo = Math.max(mo, z[off + i]);
          }
        }
        yield mo - z[off + y];
      }
      case DLR, DLR_TARGETED -> {
        double[] s = new double[k];
        for (int i = 0; i < k; i++) {
          s[i] = z[off + i];
        }
        Arrays.sort(s); // ascending: pi1 = s[k-1], pi3 = s[k-3], pi4 = s[k-4]
        if (head == LossHead.DLR) {
          double mo = Double.NEGATIVE_INFINITY;
          for (int i = 0; i < k; i++) {
            if (i != y) {
              mo = Math.max(mo, z[off + i]);
            }
          }
          yield -(z[off + y] - mo) / (s[k - 1] - s[k - 3] + 1e-12);
        }
        yield -(z[off + y] - z[off + t]) / (s[k - 1] - 0.5 * (s[k - 3] + s[k - 4]) + 1e-12);
      }
      case LOGIT_DIFF -> z[off + t] - z[off + y];
    };
  }

  /**
   * Builds the gradient graph of {@code forward} for {@code head}, runs it on random inputs and
   * checks logits, loss and gradient; returns the gradient comparison.
   *
   * @param inShape full input shape (N, ...)
   * @param h finite-difference step in input units
   */
  static Result check(
      ModelProto forward, LossHead head, long[] inShape, long seed, double h, double tol) {
    GradientGraph gg = new GradientGraphBuilder().build(forward, head);
    Random rnd = new Random(seed);
    int n = (int) inShape[0];
    int perTmp = 1;
    for (int i = 1; i < inShape.length; i++) {
      perTmp *= (int) inShape[i];
    }
    final int per = perTmp;
    float[] x = new float[n * per];
    for (int i = 0; i < x.length; i++) {
      x[i] = 0.1f + 0.8f * rnd.nextFloat();
    }
    // forward logits give K
    Map<String, float[]> f0 =
        OrtRunner.run(forward, Map.of(inputName(forward), new OrtRunner.F(x, inShape)));
    float[] logitsF = f0.values().iterator().next();
    int k = logitsF.length / n;
    long[] labels = new long[n];
    long[] targets = new long[n];
    for (int i = 0; i < n; i++) {
      labels[i] = rnd.nextInt(k);
      targets[i] = (labels[i] + 1 + rnd.nextInt(k - 1)) % k;
    }
    Map<String, Object> in = new HashMap<>();
    in.put(GradientGraphBuilder.INPUT, new OrtRunner.F(x, inShape));
    in.put(GradientGraphBuilder.LABELS, new OrtRunner.L(labels, n));
    if (head.targeted()) {
      in.put(GradientGraphBuilder.TARGETS, new OrtRunner.L(targets, n));
    }
    Map<String, float[]> out = OrtRunner.run(gg.model(), in);
    float[] logits = out.get(GradientGraphBuilder.LOGITS);
    float[] lossOut = out.get(GradientGraphBuilder.LOSS);
    float[] grad = out.get(GradientGraphBuilder.INPUT_GRAD);
    assertEquals(n * k, logits.length);
    assertEquals(n, lossOut.length);
    assertEquals(x.length, grad.length);
    boolean shifted = gg.hasNote(GradientGraph.NoteCode.FINAL_LOG_SOFTMAX);
    boolean softmaxed = gg.hasNote(GradientGraph.NoteCode.FINAL_SOFTMAX);
    if (!shifted && !softmaxed) {
      for (int i = 0; i < logits.length; i++) {
        assertEquals(
            logitsF[i],
            logits[i],
            1e-5 * (1 + Math.abs(logitsF[i])),
            "logits[" + i + "] differ from the forward model");
      }
    }
    for (int s = 0; s < n; s++) {
      double ref = loss(head, logits, s * k, k, (int) labels[s], (int) targets[s]);
      assertEquals(ref, lossOut[s], 1e-5 * (1 + Math.abs(ref)), "loss of sample " + s);
    }

    // central finite differences: 2 rows per coordinate
    int rows = 2 * x.length;
    float[] batch = new float[rows * per];
    for (int j = 0; j < x.length; j++) {
      int s = j / per;
      for (int sign = 0; sign < 2; sign++) {
        int r = 2 * j + sign;
        System.arraycopy(x, s * per, batch, r * per, per);
        batch[r * per + (j - s * per)] += (float) (sign == 0 ? h : -h);
      }
    }
    long[] bShape = inShape.clone();
    bShape[0] = rows;
    Map<String, float[]> fb =
        OrtRunner.run(forward, Map.of(inputName(forward), new OrtRunner.F(batch, bShape)));
    float[] lb = fb.values().iterator().next();
    float[] fd = new float[x.length];
    boolean[] kink = new boolean[x.length];
    int kinks = 0;
    for (int j = 0; j < x.length; j++) {
      int s = j / per;
      int y = (int) labels[s];
      int t = (int) targets[s];
      double lp = loss(head, lossLogits(lb, 2 * j, k, gg), 0, k, y, t);
      double lm = loss(head, lossLogits(lb, 2 * j + 1, k, gg), 0, k, y, t);
      double l0 = loss(head, lossLogits(logitsF, s, k, gg), 0, k, y, t);
      // the step actually taken in float32 may differ from h
      double hp = (double) (x[j] + (float) h) - x[j];
      double hm = x[j] - (double) (x[j] - (float) h);
      fd[j] = (float) ((lp - lm) / (hp + hm));
      // a kink (ReLU, max-pool or arg-max switch) inside [x-h, x+h] shows as one-sided slopes
      // that disagree far beyond the O(h * curvature) of a smooth function
      double fwd = (lp - l0) / hp;
      double bwd = (l0 - lm) / hm;
      if (Math.abs(fwd - bwd) > KINK_REL * Math.max(Math.abs(fwd), Math.abs(bwd)) + KINK_ABS) {
        kink[j] = true;
        kinks++;
      }
    }
    assertTrue(
        kinks <= MAX_KINK_FRACTION * x.length,
        "too many coordinates near a kink: " + kinks + " of " + x.length + "; lower h");
    double diff = 0;
    double norm = 0;
    double gnorm = 0;
    double flipped = 0;
    double scaled = 0;
    for (int j = 0; j < x.length; j++) {
      gnorm += sq(grad[j]);
      if (kink[j]) {
        continue;
      }
      diff += sq(grad[j] - fd[j]);
      scaled += sq(1.02 * grad[j] - fd[j]);
      flipped += sq(-grad[j] - fd[j]);
      norm += sq(fd[j]);
    }
    Result res =
        new Result(
            Math.sqrt(diff / norm), Math.sqrt(gnorm), Math.sqrt(flipped / norm), kinks, grad, fd);
    assertTrue(res.gradNorm() > 1e-6, "gradient is (almost) zero: " + res.gradNorm());
    assertTrue(
        res.relErr() <= tol,
        () ->
            head
                + ": relative error "
                + res.relErr()
                + " > "
                + tol
                + " (|g|="
                + res.gradNorm()
                + "); worst coordinates "
                + worst(grad, fd, kink, per));
    assertTrue(res.flippedRelErr() > 1.5, "a sign-flipped gradient would pass: " + res);
    // the tolerance is tight enough to catch a gradient that is only 2 % too large
    assertTrue(Math.sqrt(scaled / norm) > tol, "a 2 % scaling error would pass at tol " + tol);
    return res;
  }

  /** The logits of batch row r; for softmax-ended models converts back to logits (log p). */
  private static float[] lossLogits(float[] lb, int r, int k, GradientGraph gg) {
    float[] z = Arrays.copyOfRange(lb, r * k, r * k + k);
    if (gg.hasNote(GradientGraph.NoteCode.FINAL_SOFTMAX)) {
      for (int i = 0; i < k; i++) {
        z[i] = (float) Math.log(z[i]); // log-probabilities: logits up to a per-row shift
      }
    }
    return z;
  }

  /** The 6 coordinates with the largest |grad - fd|, as "sample/offset: grad vs fd". */
  static String worst(float[] g, float[] fd, boolean[] kink, int per) {
    Integer[] idx = new Integer[g.length];
    for (int i = 0; i < idx.length; i++) {
      idx[i] = i;
    }
    Arrays.sort(
        idx,
        (a, b) ->
            Double.compare(
                kink[b] ? 0 : Math.abs(g[b] - fd[b]), kink[a] ? 0 : Math.abs(g[a] - fd[a])));
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < Math.min(6, idx.length); i++) {
      int j = idx[i];
      sb.append(String.format(" [%d/%d: %.5g vs %.5g]", j / per, j % per, g[j], fd[j]));
    }
    return sb.toString();
  }

  private static double sq(double v) {
    return v * v;
  }

  static String inputName(ModelProto m) {
    return m.getGraph().getInput(0).getName();
  }
}
