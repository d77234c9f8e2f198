package dev.arat.attack;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.arat.specs.Norm;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The fused Linf step of PGD gives exactly the floats of the two-pass step it replaces. */
class LinfStepTest {

  @Test
  void fusedStepEqualsAscendThenProjectBitForBit() {
    SplittableRandom rng = new SplittableRandom(7);
    int per = 257;
    double[] epsilons = {8.0 / 255, 0.1, 0.3, 1e-7, 2.0};
    double[] alphas = {2.0 / 255, 0.025, 0.7, 1e-9};
    float[] odd = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0.0f, 0f};
    for (double eps : epsilons) {
      for (double alpha : alphas) {
        // two images; the step works on the second (offset per) with a one-image gradient
        // (offset 0), as PGD's early-stopping path does
        float[] x0 = new float[2 * per];
        float[] grad = new float[per];
        for (int j = 0; j < 2 * per; j++) {
          int kind = rng.nextInt(8);
          x0[j] =
              kind == 0
                  ? 0f
                  : kind == 1
                      ? 1f
                      : kind == 2 ? -0.2f : kind == 3 ? 1.3f : (float) rng.nextDouble();
        }
        for (int j = 0; j < per; j++) {
          grad[j] = rng.nextInt(6) == 0 ? odd[rng.nextInt(odd.length)] : (float) rng.nextGaussian();
        }
        float[] a = x0.clone();
        for (int j = 0; j < a.length; j++) {
          a[j] = (float) (x0[j] + eps * (2 * rng.nextDouble() - 1)); // a random start, unclipped
        }
        a[per + 3] = Float.NaN;
        float[] b = a.clone();
        float[][] box = AbstractAttack.linfBox(eps, x0);
        for (int t = 0; t < 5; t++) {
          AbstractAttack.ascend(Norm.LINF, alpha, a, grad, 0, per, per);
          Projections.linf(eps, x0, a, per, per);
          AbstractAttack.linfStep(alpha, b, grad, 0, x0, box, per, per);
          if (t == 2) {
            a[per + 7] = Float.NaN;
            b[per + 7] = Float.NaN;
          }
          for (int j = 0; j < a.length; j++) {
            assertEquals(
                Float.floatToIntBits(a[j]),
                Float.floatToIntBits(b[j]),
                "eps " + eps + " alpha " + alpha + " step " + t + " pixel " + j + ": " + a[j]
                    + " vs " + b[j]);
          }
        }
      }
    }
  }
}
