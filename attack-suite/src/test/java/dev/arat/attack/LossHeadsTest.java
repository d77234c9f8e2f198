package dev.arat.attack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.arat.specs.LossHead;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class LossHeadsTest {
  static final float[] Z = {2.0f, -1.0f, 0.5f, 1.5f, 0.1f, 0.3f, -0.2f, 0.9f};
  static final int[] Y = {0, 2};
  static final int[] T = {3, 1};

  @Test
  void handComputedValues() {
    // CE of row 0: logsumexp(2,-1,.5,1.5) - 2
    double lse = Math.log(Math.exp(2) + Math.exp(-1) + Math.exp(0.5) + Math.exp(1.5));
    assertEquals(lse - 2, LossHeads.value(LossHead.CE, Z, 4, Y, null)[0], 1e-6);
    // margin of row 1 (y=2, z_y=-0.2, best other 0.9)
    assertEquals(1.1, LossHeads.value(LossHead.MARGIN, Z, 4, Y, null)[1], 1e-6);
    // DLR row 0: -(2 - 1.5)/(2 - 0.5)
    assertEquals(-0.5 / 1.5, LossHeads.value(LossHead.DLR, Z, 4, Y, null)[0], 1e-6);
    // targeted DLR row 0: -(2 - 1.5)/(2 - (0.5 + -1)/2)
    assertEquals(-0.5 / 2.25, LossHeads.value(LossHead.DLR_TARGETED, Z, 4, Y, T)[0], 1e-6);
    assertEquals(-0.5f, LossHeads.margin(Z, 4, Y)[0] - 1.0f, 1e-6);
  }

  @ParameterizedTest
  @EnumSource(LossHead.class)
  void gradientMatchesFiniteDifferences(LossHead head) {
    float[] g = LossHeads.logitGradient(head, Z, 4, Y, T);
    double h = 1e-3;
    for (int i = 0; i < Z.length; i++) {
      float[] p = Z.clone();
      float[] m = Z.clone();
      p[i] += (float) h;
      m[i] -= (float) h;
      int row = i / 4;
      double fd =
          (LossHeads.value(head, p, 4, Y, T)[row] - LossHeads.value(head, m, 4, Y, T)[row])
              / (2 * h);
      assertEquals(fd, g[i], 2e-3, head + " d/dz[" + i + "]");
    }
  }

  @Test
  void dlrNeedsThreeClasses() {
    assertThrows(
        IllegalArgumentException.class,
        () -> LossHeads.value(LossHead.DLR, new float[] {1, 2}, 2, new int[] {0}, null));
  }
}
