package dev.arat.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.Pgd;
import dev.arat.data.ImageDataset;
import dev.arat.data.SyntheticDataset;
import dev.arat.specs.LossHead;
import dev.arat.specs.Norm;
import dev.arat.specs.ThreatModel;
import dev.arat.trainer.nn.NetworkClassifier;
import dev.arat.trainer.nn.SplitBnNetwork;
import dev.arat.trainer.nn.SplitBnNetwork.Branch;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The direct DJL PGD loop computes what the attack-suite adapter path computes (no timing). */
class DirectPgdTest {

  @Test
  void matchesTheAdapterPathWithoutRandomStart() {
    TrainStepBench.Config c = new TrainStepBench.Config("small-cnn", 8, 1, 12, 12, 10, 3, 0, 1, 4);
    ImageDataset d = SyntheticDataset.generate(3, 8, 1, 12, 12, 10);
    double eps = 0.1;
    try (NDManager root = NDManager.newBaseManager();
        SplitBnNetwork net =
            new SplitBnNetwork(TrainStepBench.architecture(c), false, List.of(), 0, 7, root)) {
      ImageBatch x = new ImageBatch(d.pixels(), 8, 1, 12, 12);
      Pgd pgd = new Pgd(new ThreatModel(Norm.LINF, eps), 3, eps / 4, 1, LossHead.CE, false, 1);
      float[] viaAdapter =
          pgd.perturb(new NetworkClassifier(net, Branch.ADV, true), x, d.labels(), new long[8])
              .data();
      float[] direct =
          DirectPgd.perturb(
              net,
              Branch.ADV,
              true,
              x.data(),
              d.labels(),
              new Shape(8, 1, 12, 12),
              eps,
              eps / 4,
              3,
              false);
      assertTrue(net.isTrainable(), "the weights are unfrozen again");
      int same = 0;
      for (int i = 0; i < direct.length; i++) {
        assertTrue(Math.abs(direct[i] - x.data()[i]) <= eps + 1e-6, "inside the ball");
        assertTrue(direct[i] >= 0f && direct[i] <= 1f, "inside [0,1]");
        same += Math.abs(direct[i] - viaAdapter[i]) <= 1e-5 ? 1 : 0;
      }
      assertTrue(same >= 0.98 * direct.length, same + " of " + direct.length + " agree");
    }
  }

  @Test
  void randomStartStaysInTheBudget() {
    TrainStepBench.Config c = new TrainStepBench.Config("small-cnn", 4, 1, 8, 8, 10, 2, 0, 1, 4);
    ImageDataset d = SyntheticDataset.generate(5, 4, 1, 8, 8, 10);
    try (NDManager root = NDManager.newBaseManager();
        SplitBnNetwork net =
            new SplitBnNetwork(TrainStepBench.architecture(c), true, List.of(), 0, 7, root)) {
      float[] out =
          DirectPgd.perturb(
              net,
              Branch.ADV,
              true,
              d.pixels(),
              d.labels(),
              new Shape(4, 1, 8, 8),
              0.05,
              0.0125,
              2,
              true);
      assertEquals(d.pixels().length, out.length);
      for (int i = 0; i < out.length; i++) {
        assertTrue(Math.abs(out[i] - d.pixels()[i]) <= 0.05 + 1e-6);
      }
    }
  }

  @Test
  void statsQuartiles() {
    Stats s = Stats.of(new double[] {4, 1, 3, 2, 5});
    assertEquals(3, s.mean(), 1e-12);
    assertEquals(3, s.median(), 1e-12);
    assertEquals(2, s.q1(), 1e-12);
    assertEquals(4, s.q3(), 1e-12);
    assertEquals(Math.sqrt(2.5), s.std(), 1e-12);
    assertEquals(1, Stats.of(new double[] {1}).median(), 0);
  }
}
