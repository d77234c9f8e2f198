package dev.arat.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.Projections;
import dev.arat.data.ImageDataset;
import dev.arat.data.SyntheticDataset;
import dev.arat.specs.Norm;
import dev.arat.specs.Specs;
import dev.arat.specs.ThreatModel;
import dev.arat.specs.TrainingRecipe;
import dev.arat.trainer.nn.SplitBnNetwork;
import dev.arat.trainer.nn.SplitBnNetwork.Branch;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** TRADES (objective and KL attack) and the L2 threat model in training. */
class TradesTest {
  static TrainingRecipe recipe(String extra) {
    return Specs.parse(
        "method: trades\nseed: 5\nattack: {epsilon: 0.1, step_size: 0.025, steps: 3}\n" + extra,
        TrainingRecipe.class,
        "test");
  }

  @Test
  void klDivergenceMatchesTheDefinition() {
    try (NDManager m = NDManager.newBaseManager()) {
      float[] p = {1f, 2f, 0.5f, -1f, 0f, 3f};
      float[] q = {0.2f, -1f, 1f, 2f, 2f, 2f};
      NDArray kl =
          Objective.klDivergence(m.create(p, new Shape(2, 3)), m.create(q, new Shape(2, 3)));
      double expected = 0;
      for (int i = 0; i < 2; i++) {
        double[] sp = softmax(p, i * 3);
        double[] sq = softmax(q, i * 3);
        for (int k = 0; k < 3; k++) {
          expected += sp[k] * Math.log(sp[k] / sq[k]);
        }
      }
      assertEquals(expected / 2, kl.getFloat(), 1e-6);
    }
  }

  static double[] softmax(float[] z, int off) {
    double max = Math.max(z[off], Math.max(z[off + 1], z[off + 2]));
    double[] e = new double[3];
    double s = 0;
    for (int k = 0; k < 3; k++) {
      e[k] = Math.exp(z[off + k] - max);
      s += e[k];
    }
    for (int k = 0; k < 3; k++) {
      e[k] /= s;
    }
    return e;
  }

  @Test
  void klAttackStaysInTheBallRaisesTheKlAndKeepsGradientsClean() {
    TrainingRecipe r = recipe("");
    ImageDataset d = SyntheticDataset.generate(3, 16, 1, 28, 28, 10);
    ImageBatch x = new ImageBatch(d.pixels(), 16, 1, 28, 28);
    long[] ids = new long[16];
    for (int i = 0; i < 16; i++) {
      ids[i] = 100 + i;
    }
    for (Norm norm : List.of(Norm.LINF, Norm.L2)) {
      double eps = norm == Norm.LINF ? 0.1 : 1.0;
      try (NDManager m = NDManager.newBaseManager();
          SplitBnNetwork net = Trainer.newNetwork(r, ObjectiveTest.SMALL, m)) {
        net.setBnMomentum(0.0);
        ImageBatch start =
            new KlAttack(new ThreatModel(norm, eps), 1, 1e-9, 9)
                .perturb(net, Branch.ADV, true, x, ids);
        ImageBatch adv =
            new KlAttack(new ThreatModel(norm, eps), 5, eps / 4, 9)
                .perturb(net, Branch.ADV, true, x, ids);
        double moved = 0;
        for (int i = 0; i < 16; i++) {
          double dist = Projections.norm(norm, x.data(), adv.data(), i * 784, 784);
          assertTrue(dist <= eps + 1e-5, norm + " outside the ball: " + dist);
          moved = Math.max(moved, dist);
        }
        assertTrue(moved > eps / 2, "the attack moved the images: " + moved);
        assertArrayEquals(SyntheticDataset.generate(3, 16, 1, 28, 28, 10).pixels(), x.data());
        assertTrue(
            kl(net, x, adv) > 2 * kl(net, x, start),
            "KL rises: " + kl(net, x, adv) + " vs start " + kl(net, x, start));
        // weights were frozen: no gradient accumulated
        for (String k : net.trainableNames()) {
          assertEquals(
              0.0, ObjectiveTest.l1(net.parameters().get(k).getGradient().toFloatArray()), k);
        }
      }
    }
  }

  static double kl(SplitBnNetwork net, ImageBatch x, ImageBatch a) {
    try (NDManager s = net.manager().newSubManager()) {
      Shape sh = new Shape(x.n(), 1, 28, 28);
      NDArray p = net.forward(s.create(x.data(), sh), Branch.ADV, true, false).logits();
      NDArray q = net.forward(s.create(a.data(), sh), Branch.ADV, true, false).logits();
      return Objective.klDivergence(p, q).getFloat();
    }
  }

  @Test
  void tradesLossIsCePlusBetaKl() {
    TrainingRecipe r = recipe("trades: {beta: 3.0}\n");
    ImageDataset d = SyntheticDataset.generate(1, 16, 1, 28, 28, 10);
    ImageBatch x = new ImageBatch(d.pixels(), 16, 1, 28, 28);
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork net = Trainer.newNetwork(r, ObjectiveTest.SMALL, m)) {
      assertTrue(!net.splitBn() && !net.hasPredictors() && net.taps().isEmpty());
      Objective o = new Objective(r, net);
      ImageBatch adv = o.adversarial(x, d.labels(), new long[16], 4);
      try (NDManager step = net.manager().newSubManager()) {
        Objective.StepLoss l = o.backward(step, x, adv, d.labels(), 1, 1, Objective.allTerms());
        assertEquals(l.ceClean() + l.invariance(), l.total(), 1e-5);
        assertTrue(l.invariance() > 0);
      }
      assertTrue(ObjectiveTest.l1(ObjectiveTest.grads(net).get("conv1.weight")) > 0);
    }
  }

  @Test
  void l2TrainingWorksForEveryAdversarialMethod(@TempDir Path tmp) throws Exception {
    for (String method : List.of("pgd-at", "trades", "arat")) {
      TrainingRecipe r =
          Specs.parse(
              "method: "
                  + method
                  + "\nseed: 2\n"
                  + "data: {dataset: synthetic, train_samples: 64}\nepochs: 1\nbatch_size: 32\n"
                  + "optimizer: {lr: 0.05}\nschedule: {type: constant}\n"
                  + "attack: {norm: L2, epsilon: 1.0, step_size: 0.25, steps: 2}\n"
                  + "arat: {gamma: 2.0, balance_samples: 32, conflict_interval: 0}\n"
                  + "evaluation: {samples: 16, pgd_steps: 2}\n",
              TrainingRecipe.class,
              "test");
      Path dir = tmp.resolve(method);
      TrainingResult res = new Trainer().train(r, dir, false, null, null);
      assertEquals(2, res.globalStep());
      JsonNode l = TrainerTest.metrics(dir).get(0);
      assertEquals("L2", l.get("pgd_norm").asText(), method);
      assertTrue(Double.isFinite(l.get("loss").asDouble()), method);
      assertTrue(l.hasNonNull("pgd_accuracy"), method);
      if (!"pgd-at".equals(method)) {
        assertTrue(l.hasNonNull("loss_inv"), method + " logs its regulariser");
      }
      Map<String, String> prov = dev.arat.specs.Checkpoint.read(dir).state().provenance();
      assertEquals(method, prov.get("method"));
    }
  }
}
