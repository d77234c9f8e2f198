package dev.arat.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import dev.arat.attack.ImageBatch;
import dev.arat.data.ImageDataset;
import dev.arat.data.SyntheticDataset;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Architectures;
import dev.arat.specs.Specs;
import dev.arat.specs.TrainingRecipe;
import dev.arat.trainer.nn.SplitBnNetwork;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ObjectiveTest {
  static final ArchitectureSpec SMALL =
      Architectures.smallCnn(1, 28, 28, 10, new float[] {0.3f}, new float[] {0.3f});

  static TrainingRecipe recipe(String extra) {
    return Specs.parse(
        "method: arat\nseed: 5\nattack: {epsilon: 0.1, step_size: 0.025, steps: 3}\n" + extra,
        TrainingRecipe.class,
        "test");
  }

  static Map<String, float[]> grads(SplitBnNetwork net) {
    Map<String, float[]> g = new LinkedHashMap<>();
    for (String n : net.trainableNames()) {
      g.put(n, net.parameters().get(n).getGradient().toFloatArray());
    }
    return g;
  }

  static double l1(float[] v) {
    double s = 0;
    for (float f : v) {
      s += Math.abs(f);
    }
    return s;
  }

  @Test
  void invarianceGradientReachesAdvSideOnlyAsInTheMethod() {
    TrainingRecipe r = recipe("");
    ImageDataset d = SyntheticDataset.generate(1, 16, 1, 28, 28, 10);
    ImageBatch x = new ImageBatch(d.pixels(), 16, 1, 28, 28);
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork net = Trainer.newNetwork(r, SMALL, m)) {
      Objective o = new Objective(r, net);
      ImageBatch adv = o.adversarial(x, d.labels(), new long[16], 9);
      try (NDManager step = net.manager().newSubManager()) {
        Objective.StepLoss l =
            o.backward(step, x, adv, d.labels(), 0.3, 0.7, EnumSet.of(Objective.Term.INVARIANCE));
        assertTrue(l.invariance() > 0);
      }
      Map<String, float[]> g = grads(net);
      for (Map.Entry<String, float[]> e : g.entrySet()) {
        String k = e.getKey();
        double v = l1(e.getValue());
        if (k.contains(".clean.")) {
          assertEquals(0.0, v, k + " (clean BN) must get no invariance gradient");
        } else if (k.startsWith("predictor.")
            || k.contains(".adv.")
            || k.startsWith("conv")
            || k.startsWith("fc1.")) {
          assertTrue(v > 0, k + " must get invariance gradient");
        } else if (k.startsWith("fc2.")) {
          assertEquals(0.0, v, "the classifier layer lies after every tap");
        }
      }
      // The full loss reaches the clean BN through the clean CE.
      try (NDManager step = net.manager().newSubManager()) {
        o.backward(step, x, adv, d.labels(), 0.3, 0.7, Objective.allTerms());
      }
      assertTrue(l1(grads(net).get("bn1.clean.weight")) > 0);
    }
  }

  @Test
  void withoutStopGradientTheCleanSideLearnsToo() {
    TrainingRecipe r = recipe("arat: {stop_gradient: false}\n");
    ImageDataset d = SyntheticDataset.generate(1, 16, 1, 28, 28, 10);
    ImageBatch x = new ImageBatch(d.pixels(), 16, 1, 28, 28);
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork net = Trainer.newNetwork(r, SMALL, m)) {
      Objective o = new Objective(r, net);
      ImageBatch adv = o.adversarial(x, d.labels(), new long[16], 9);
      try (NDManager step = net.manager().newSubManager()) {
        o.backward(step, x, adv, d.labels(), 0.3, 0.7, EnumSet.of(Objective.Term.INVARIANCE));
      }
      assertTrue(l1(grads(net).get("bn1.clean.weight")) > 0);
    }
  }

  @Test
  void attackDoesNotPolluteTheTrainingGradients() {
    TrainingRecipe r = recipe("");
    ImageDataset d = SyntheticDataset.generate(2, 16, 1, 28, 28, 10);
    ImageBatch x = new ImageBatch(d.pixels(), 16, 1, 28, 28);
    long[] ids = new long[16];
    for (int i = 0; i < 16; i++) {
      ids[i] = i;
    }
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork a = Trainer.newNetwork(r, SMALL, m);
        SplitBnNetwork b = Trainer.newNetwork(r, SMALL, m)) {
      Objective oa = new Objective(r, a);
      ImageBatch adv = oa.adversarial(x, d.labels(), ids, 77);
      double moved = 0;
      for (int i = 0; i < adv.data().length; i++) {
        moved = Math.max(moved, Math.abs(adv.data()[i] - x.data()[i]));
        assertTrue(Math.abs(adv.data()[i] - x.data()[i]) <= 0.1 + 1e-6, "outside the ball");
      }
      assertTrue(moved > 0.05, "the attack moved the images");
      assertArrayEquals(
          SyntheticDataset.generate(2, 16, 1, 28, 28, 10).pixels(),
          x.data(),
          "the clean batch is untouched (no P1)");
      try (NDManager step = a.manager().newSubManager()) {
        oa.backward(step, x, adv, d.labels(), 0.4, 0.6, Objective.allTerms());
      }
      // Network b: same init, never attacked; the same step on the same adversarial batch.
      Objective ob = new Objective(r, b);
      try (NDManager step = b.manager().newSubManager()) {
        ob.backward(step, x, adv, d.labels(), 0.4, 0.6, Objective.allTerms());
      }
      Map<String, float[]> ga = grads(a);
      Map<String, float[]> gb = grads(b);
      for (String k : ga.keySet()) {
        assertArrayEquals(gb.get(k), ga.get(k), k);
      }
      assertFalse(l1(ga.get("conv1.weight")) == 0);
    }
  }
}
