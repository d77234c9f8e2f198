package dev.arat.trainer.nn;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.attack.LossHeads;
import dev.arat.specs.LossHead;
import dev.arat.trainer.nn.SplitBnNetwork.Branch;
import java.util.List;
import org.junit.jupiter.api.Test;

class NetworkClassifierTest {

  /** Central finite differences of the summed head value, in double-checked float32. */
  private static void checkGradient(LossHead head) {
    ImageBatch x = SplitBnNetworkTest.images(3, 21);
    int[] labels = {0, 1, 2};
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork net =
            new SplitBnNetwork(SplitBnNetworkTest.SMALL, true, List.of(), 0, 4, m)) {
      SplitBnNetworkTest.warm(net, SplitBnNetworkTest.images(16, 22));
      NetworkClassifier c = new NetworkClassifier(net, Branch.ADV, false);
      LossGradient g = c.lossGradient(x, labels, null, head);
      assertArrayEquals(c.logits(x), g.logits());
      assertArrayEquals(LossHeads.value(head, g.logits(), 10, labels, null), g.losses());
      int per = x.imageSize();
      int checked = 0;
      double h = 2e-3;
      for (int idx = 5; idx < x.data().length && checked < 24; idx += 97) {
        float[] plus = x.data().clone();
        float[] minus = x.data().clone();
        plus[idx] += h;
        minus[idx] -= h;
        double fp = sum(LossHeads.value(head, c.logits(x.with(plus)), 10, labels, null));
        double fm = sum(LossHeads.value(head, c.logits(x.with(minus)), 10, labels, null));
        double numeric = (fp - fm) / (2 * h);
        double analytic = g.gradient()[idx];
        assertEquals(
            numeric,
            analytic,
            2e-3 + 0.02 * Math.abs(numeric),
            head + " pixel " + idx + " of sample " + idx / per);
        checked++;
      }
      double norm = 0;
      for (float v : g.gradient()) {
        norm += Math.abs(v);
      }
      assertTrue(norm > 0, "gradient is zero");
      // The weights' gradients stay untouched by an attack's backward pass.
      assertTrue(net.isTrainable());
      for (String name : net.trainableNames()) {
        assertEquals(0f, net.parameters().get(name).getGradient().abs().sum().getFloat(), name);
      }
    }
  }

  private static double sum(float[] v) {
    double s = 0;
    for (float f : v) {
      s += f;
    }
    return s;
  }

  @Test
  void crossEntropyInputGradientMatchesFiniteDifferences() {
    checkGradient(LossHead.CE);
  }

  @Test
  void marginInputGradientMatchesFiniteDifferences() {
    checkGradient(LossHead.MARGIN);
  }

  @Test
  void modeIsTheAdaptersChoice() {
    ImageBatch x = SplitBnNetworkTest.images(8, 23);
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork net =
            new SplitBnNetwork(SplitBnNetworkTest.SMALL, true, List.of(), 0, 4, m)) {
      float[] before = net.parameters().get("bn1.adv.running_mean").toFloatArray();
      new NetworkClassifier(net, Branch.ADV, false).lossGradient(x, new int[8], null, LossHead.CE);
      assertArrayEquals(before, net.parameters().get("bn1.adv.running_mean").toFloatArray());
      new NetworkClassifier(net, Branch.ADV, true).lossGradient(x, new int[8], null, LossHead.CE);
      assertFalse(
          java.util.Arrays.equals(
              before, net.parameters().get("bn1.adv.running_mean").toFloatArray()));
      assertArrayEquals(
          new float[32], net.parameters().get("bn1.clean.running_mean").toFloatArray());
    }
  }

  @Test
  void unsupportedUseIsAClearError() {
    ImageBatch x = SplitBnNetworkTest.images(2, 24);
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork net =
            new SplitBnNetwork(SplitBnNetworkTest.SMALL, true, List.of(), 0, 4, m)) {
      NetworkClassifier c = new NetworkClassifier(net, Branch.ADV, false);
      assertThrows(
          IllegalArgumentException.class,
          () -> c.lossGradient(x, new int[2], null, LossHead.CE_TARGETED));
      assertThrows(IllegalArgumentException.class, () -> c.lossGradient(x, new int[2], null, null));
      assertThrows(
          IllegalArgumentException.class,
          () ->
              c.lossGradient(
                  new ImageBatch(new float[2 * 3 * 28 * 28], 2, 3, 28, 28),
                  new int[2],
                  null,
                  LossHead.CE));
    }
  }
}
