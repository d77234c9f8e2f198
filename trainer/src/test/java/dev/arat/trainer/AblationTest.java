package dev.arat.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import dev.arat.attack.ImageBatch;
import dev.arat.data.ImageDataset;
import dev.arat.data.SyntheticDataset;
import dev.arat.specs.Specs;
import dev.arat.specs.TrainingRecipe;
import dev.arat.trainer.nn.SplitBnNetwork;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each ablation switch of ARAT-METHOD §6.4 changes what it should: the invariance value or which
 * weights its gradient reaches. Backbone weights are seeded per name, so every variant starts from
 * the same backbone and sees the same adversarial batch.
 */
class AblationTest {
  static final ImageDataset D = SyntheticDataset.generate(1, 16, 1, 28, 28, 10);
  static final ImageBatch X = new ImageBatch(D.pixels(), 16, 1, 28, 28);

  /** Invariance value and the L1 of its gradient per weight, for a variant. */
  record Inv(double value, Map<String, float[]> grads, SplitBnNetworkInfo info) {}

  record SplitBnNetworkInfo(boolean split, boolean predictors, List<String> taps) {}

  static Inv inv(String arat) {
    TrainingRecipe r =
        Specs.parse(
            "method: arat\nseed: 5\nattack: {epsilon: 0.1, step_size: 0.025,"
                + " steps: 2}\narat: {"
                + arat
                + "}\n",
            TrainingRecipe.class,
            "test");
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork net = Trainer.newNetwork(r, ObjectiveTest.SMALL, m)) {
      Objective o = new Objective(r, net);
      // the same adversarial batch for every variant: a fixed shift
      float[] a = X.data().clone();
      for (int i = 0; i < a.length; i++) {
        a[i] = Math.min(1f, Math.max(0f, a[i] + ((i % 7) - 3) * 0.03f));
      }
      try (NDManager step = net.manager().newSubManager()) {
        Objective.StepLoss l =
            o.backward(step, X, X.with(a), D.labels(), 1, 1, EnumSet.of(Objective.Term.INVARIANCE));
        return new Inv(
            l.invariance(),
            ObjectiveTest.grads(net),
            new SplitBnNetworkInfo(net.splitBn(), net.hasPredictors(), net.taps()));
      }
    }
  }

  static double g(Inv v, String name) {
    float[] f = v.grads().get(name);
    return f == null ? Double.NaN : ObjectiveTest.l1(f);
  }

  @Test
  void predictorSwitch() {
    Inv on = inv("");
    Inv off = inv("predictor: false");
    assertTrue(on.info().predictors());
    assertFalse(off.info().predictors());
    assertFalse(off.grads().keySet().stream().anyMatch(k -> k.startsWith("predictor.")));
    assertNotEquals(on.value(), off.value(), 1e-6);
  }

  @Test
  void stopGradientSwitch() {
    Inv sg = inv("predictor: false");
    Inv nosg = inv("predictor: false, stop_gradient: false");
    assertEquals(sg.value(), nosg.value(), 1e-6, "same forward value");
    assertEquals(0.0, g(sg, "bn1.clean.weight"));
    assertTrue(g(nosg, "bn1.clean.weight") > 0);
  }

  @Test
  void alignSwitch() {
    Inv xy = inv("predictor: false");
    Inv yx = inv("predictor: false, align: \"y->x\"");
    Inv both = inv("predictor: false, align: \"x->y,y->x\"");
    Inv sym = inv("predictor: false, align: \"x<->y\"");
    // without predictor the four have the same value (cosine is symmetric) ...
    assertEquals(xy.value(), yx.value(), 1e-6);
    assertEquals(xy.value(), both.value(), 1e-6);
    assertEquals(xy.value(), sym.value(), 1e-6);
    // ... but their gradients go to different sides
    assertTrue(g(xy, "bn2.adv.weight") > 0);
    assertEquals(0.0, g(xy, "bn2.clean.weight"));
    assertEquals(0.0, g(yx, "bn2.adv.weight"));
    assertTrue(g(yx, "bn2.clean.weight") > 0);
    assertTrue(g(both, "bn2.adv.weight") > 0 && g(both, "bn2.clean.weight") > 0);
    assertEquals(
        g(both, "bn2.adv.weight"), g(xy, "bn2.adv.weight") / 2, 1e-4 * g(xy, "bn2.adv.weight"));
    assertTrue(g(sym, "bn2.adv.weight") > 0 && g(sym, "bn2.clean.weight") > 0);
  }

  @Test
  void splitBnSwitch() {
    Inv split = inv("");
    Inv shared = inv("split_bn: false");
    assertTrue(split.info().split());
    assertFalse(shared.info().split());
    assertFalse(shared.grads().keySet().stream().anyMatch(k -> k.contains(".clean.")));
    // at init both BN sets are identical (gamma 1, beta 0, batch statistics): same value
    assertEquals(split.value(), shared.value(), 1e-5);
    assertEquals(0.0, g(split, "bn1.clean.weight"), "split: the stop-gradient side is clean BN");
    assertTrue(g(shared, "bn1.adv.weight") > 0);
  }

  @Test
  void gammaScalesTheTermLinearly() {
    Inv g2 = inv("gamma: 2.0");
    Inv g4 = inv("gamma: 4.0");
    assertEquals(2 * g2.value(), g4.value(), 1e-5);
    assertEquals(2 * g(g2, "conv1.weight"), g(g4, "conv1.weight"), 1e-4 * g(g4, "conv1.weight"));
  }

  @Test
  void tapsSwitch() {
    Inv def = inv("");
    Inv one = inv("taps: [bn1]");
    assertEquals(List.of("bn2", "fc1"), def.info().taps());
    assertEquals(List.of("bn1"), one.info().taps());
    assertTrue(one.grads().containsKey("predictor.bn1.fc1.weight"));
    assertEquals(0.0, g(one, "conv2.weight"), "a tap at bn1 does not reach conv2");
    assertTrue(g(def, "conv2.weight") > 0);
    assertThrows(IllegalArgumentException.class, () -> inv("taps: [nope]"));
  }

  @Test
  void autoBalanceSwitch(@TempDir Path tmp) throws Exception {
    for (boolean on : new boolean[] {true, false}) {
      TrainingRecipe r =
          Specs.parse(
              "method: arat\nseed: 2\n"
                  + "data: {dataset: synthetic, train_samples: 64}\nepochs: 1\nbatch_size: 32\n"
                  + "optimizer: {lr: 0.05}\nschedule: {type: constant}\n"
                  + "attack: {epsilon: 0.1, step_size: 0.05, steps: 1}\n"
                  + "arat: {gamma: 2.0, auto_balance: "
                  + on
                  + ", balance_samples: 32, conflict_interval: 0}\n"
                  + "evaluation: {samples: 0}\n",
              TrainingRecipe.class,
              "test");
      Path dir = tmp.resolve("ab" + on);
      new Trainer().train(r, dir, false, null, null);
      JsonNode l = TrainerTest.metrics(dir).get(0);
      if (on) {
        assertEquals(1.0, l.get("w_adv").asDouble() + l.get("w_clean").asDouble(), 1e-12);
        assertTrue(l.hasNonNull("balance_accuracy"));
      } else {
        assertEquals(1.0, l.get("w_adv").asDouble());
        assertEquals(1.0, l.get("w_clean").asDouble());
        assertFalse(l.hasNonNull("balance_accuracy"));
      }
    }
  }
}
