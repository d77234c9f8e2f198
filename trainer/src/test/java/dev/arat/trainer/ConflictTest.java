package dev.arat.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The gradient-conflict metric of ARAT-METHOD §7. */
class ConflictTest {

  static TrainingRecipe run(String arat) {
    return Specs.parse(
        "method: arat\nseed: 11\n"
            + "data: {dataset: synthetic, train_samples: 192}\n"
            + "epochs: 1\nbatch_size: 32\n"
            + "optimizer: {lr: 0.05}\nschedule: {type: constant}\n"
            + "attack: {epsilon: 0.1, step_size: 0.1, steps: 1}\n"
            + "arat: {gamma: 10.0, balance_interval: 0, balance_samples: 32, conflict_interval: 1"
            + arat
            + "}\n"
            + "evaluation: {samples: 0}\n",
        TrainingRecipe.class,
        "test");
  }

  static double[] means(Path dir) throws Exception {
    List<JsonNode> m = TrainerTest.metrics(dir);
    JsonNode l = m.get(m.size() - 1);
    return new double[] {
      l.get("grad_cosine").asDouble(),
      l.get("grad_conflict_ratio").asDouble(),
      l.get("conflict_measurements").asDouble(),
      l.get("conflict_seconds").asDouble(),
      l.get("train_seconds").asDouble()
    };
  }

  @Test
  void symmetricLossConflictsMoreThanAratsAsymmetricLoss(@TempDir Path tmp) throws Exception {
    Path a = tmp.resolve("arat");
    Path s = tmp.resolve("sym");
    new Trainer().train(run(""), a, false, null, null);
    new Trainer()
        .train(
            run(", align: \"x<->y\", predictor: false, stop_gradient: false"),
            s,
            false,
            null,
            null);
    double[] ma = means(a);
    double[] ms = means(s);
    System.out.printf(
        Locale.ROOT,
        "conflict metric over 6 steps: ARAT cosine %.4f ratio %.4f | "
            + "symmetric cosine %.4f ratio %.4f | ARAT measurement %.3f s of %.3f s training%n",
        ma[0],
        ma[1],
        ms[0],
        ms[1],
        ma[3],
        ma[4]);
    assertEquals(6, ma[2]);
    assertEquals(6, ms[2]);
    List<JsonNode> lines = MetricsFiles.read(a.resolve(Trainer.CONFLICT_FILE));
    assertEquals(6, lines.size());
    JsonNode first = lines.get(0);
    for (String k :
        List.of(
            "epoch",
            "step",
            "cosine",
            "conflict_ratio",
            "norm_cls",
            "norm_inv",
            "purifying_cosine",
            "contaminating_cosine",
            "parameters",
            "layers")) {
      assertTrue(first.has(k), k);
    }
    // fc2 lies after every tap of small-cnn: L_inv gives it exactly zero gradient.
    assertEquals(0.0, first.get("layers").get("fc2.weight").get("norm_inv").asDouble());
    assertTrue(ma[0] > ms[0], "ARAT's cosine " + ma[0] + " vs symmetric " + ms[0]);
    assertTrue(ma[1] < ms[1], "ARAT's conflict ratio " + ma[1] + " vs symmetric " + ms[1]);
  }

  @Test
  void measuringChangesNothingInTheTrainingStep() {
    TrainingRecipe r = run("");
    ImageDataset d = SyntheticDataset.generate(4, 16, 1, 28, 28, 10);
    ImageBatch x = new ImageBatch(d.pixels(), 16, 1, 28, 28);
    try (NDManager m = NDManager.newBaseManager();
        SplitBnNetwork a = Trainer.newNetwork(r, ObjectiveTest.SMALL, m);
        SplitBnNetwork b = Trainer.newNetwork(r, ObjectiveTest.SMALL, m)) {
      Objective oa = new Objective(r, a);
      Objective ob = new Objective(r, b);
      ImageBatch adv = oa.adversarial(x, d.labels(), new long[16], 3);
      ob.adversarial(x, d.labels(), new long[16], 3);
      Objective.Conflict c = oa.conflict(x, adv, d.labels(), 0.3, 0.7);
      assertTrue(c.parameters() > 0);
      assertTrue(Double.isFinite(c.overall().cosine()));
      assertTrue(c.overall().conflictRatio() >= 0 && c.overall().conflictRatio() <= 1);
      Map<String, ai.djl.ndarray.NDArray> pa = a.parameters();
      Map<String, ai.djl.ndarray.NDArray> pb = b.parameters();
      for (String k : pa.keySet()) {
        assertArrayEquals(pb.get(k).toFloatArray(), pa.get(k).toFloatArray(), k);
      }
      try (NDManager step = a.manager().newSubManager()) {
        oa.backward(step, x, adv, d.labels(), 0.3, 0.7, Objective.allTerms());
      }
      try (NDManager step = b.manager().newSubManager()) {
        ob.backward(step, x, adv, d.labels(), 0.3, 0.7, Objective.allTerms());
      }
      Map<String, float[]> ga = ObjectiveTest.grads(a);
      Map<String, float[]> gb = ObjectiveTest.grads(b);
      for (String k : ga.keySet()) {
        assertArrayEquals(gb.get(k), ga.get(k), k);
      }
    }
  }

  @Test
  void compareCountsZerosInTheDenominator() {
    Objective.LayerConflict c =
        Objective.compare(new float[][] {{1, -1, 2, 0}}, new float[][] {{1, 1, 0, 0}});
    assertEquals(0.25, c.conflictRatio(), 1e-12);
    assertEquals(0.0, c.cosine(), 1e-12);
    assertEquals(Math.sqrt(6), c.normCls(), 1e-12);
    assertEquals(Math.sqrt(2), c.normInv(), 1e-12);
  }
}
