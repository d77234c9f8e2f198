package dev.arat.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.Specs;
import dev.arat.specs.Tensor;
import dev.arat.specs.TrainingRecipe;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainerTest {
  static TrainingRecipe recipe(int epochs, String extra) {
    return Specs.parse(
        "method: arat\nseed: 3\n"
            + "data: {dataset: synthetic, train_samples: 160}\n"
            + "epochs: "
            + epochs
            + "\nbatch_size: 32\n"
            + "optimizer: {lr: 0.05}\nschedule: {type: constant}\n"
            + "attack: {epsilon: 0.1, step_size: 0.05, steps: 2}\n"
            + "arat: {gamma: 2.0, balance_interval: 64, balance_samples: 64}\n"
            + "evaluation: {samples: 40, pgd_steps: 2}\n"
            + extra,
        TrainingRecipe.class,
        "test");
  }

  static List<JsonNode> metrics(Path run) throws IOException {
    List<JsonNode> out = new ArrayList<>();
    for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
      out.add(Specs.json().readTree(line));
    }
    return out;
  }

  static void assertSameWeights(Path a, Path b) {
    Checkpoint ca = Checkpoint.read(a);
    Checkpoint cb = Checkpoint.read(b);
    assertEquals(ca.weights().keySet(), cb.weights().keySet());
    for (Map.Entry<String, Tensor> e : ca.weights().entrySet()) {
      assertArrayEquals(e.getValue().data(), cb.weights().get(e.getKey()).data(), e.getKey());
    }
    for (Map.Entry<String, Tensor> e : ca.optimizer().entrySet()) {
      assertArrayEquals(e.getValue().data(), cb.optimizer().get(e.getKey()).data(), e.getKey());
    }
    assertEquals(ca.state().globalStep(), cb.state().globalStep());
  }

  @Test
  void twoEpochAratRunWritesMetricsCheckpointsAndRecipe(@TempDir Path run) throws Exception {
    TrainingResult r = new Trainer().train(recipe(2, ""), run, false, null, null);
    assertEquals(2, r.epochsCompleted());
    assertEquals(10, r.globalStep());
    List<JsonNode> m = metrics(run);
    assertEquals(2, m.size());
    for (String f :
        List.of(
            "epoch",
            "lr",
            "loss",
            "loss_ce_adv",
            "loss_ce_clean",
            "loss_inv",
            "w_adv",
            "w_clean",
            "train_accuracy",
            "clean_accuracy_adv_bn",
            "clean_accuracy_clean_bn",
            "pgd_accuracy",
            "pgd_steps",
            "images_per_second",
            "epoch_seconds",
            "rss_mb")) {
      assertTrue(m.get(1).hasNonNull(f), f + " in " + m.get(1));
    }
    assertEquals(1, m.get(0).get("epoch").asInt());
    assertEquals(2, m.get(1).get("epoch").asInt());
    double wAdv = m.get(1).get("w_adv").asDouble();
    assertEquals(1.0, wAdv + m.get(1).get("w_clean").asDouble(), 1e-9);
    assertTrue(Files.isDirectory(run.resolve("checkpoints/epoch-0001")));
    assertTrue(Files.isDirectory(run.resolve("checkpoints/epoch-0002")));
    assertTrue(Files.exists(run.resolve("recipe.yaml")));
    // metrics.csv: a header with the JSON keys, one row per epoch; training.png: a PNG
    List<String> csv = Files.readAllLines(run.resolve("metrics.csv"));
    assertEquals(3, csv.size());
    List<String> header = List.of(csv.get(0).split(","));
    for (JsonNode line : m) {
      line.fieldNames().forEachRemaining(k -> assertTrue(header.contains(k), k));
    }
    assertEquals(m.get(0).get("loss").asText(), csv.get(1).split(",")[header.indexOf("loss")]);
    byte[] png = Files.readAllBytes(run.resolve("training.png"));
    assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G');
    // ARAT logs the gradient-conflict metric (default interval 100: step 0 of this run)
    assertEquals(1, MetricsFiles.read(run.resolve(Trainer.CONFLICT_FILE)).size());
    assertTrue(m.get(0).hasNonNull("grad_cosine"));
    Checkpoint c = Checkpoint.read(run);
    assertEquals(2, c.state().epoch());
    assertEquals("arat", c.state().provenance().get("method"));
    assertTrue(c.state().provenance().containsKey("dataset_sha256"));
    assertTrue(c.state().provenance().containsKey("pytorch_version"));
    assertTrue(c.weights().containsKey("predictor.bn2.fc1.weight"));
    assertTrue(c.optimizer().containsKey("conv1.weight"));
    // A second fresh run into the same folder is refused.
    assertThrows(
        IllegalStateException.class,
        () -> new Trainer().train(recipe(2, ""), run, false, null, null));
  }

  @Test
  void resumeWithoutCheckpointIsAClearError(@TempDir Path run) {
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class,
            () -> new Trainer().train(recipe(1, ""), run, true, null, null));
    assertTrue(e.getMessage().contains("no checkpoint"), e.getMessage());
  }

  @Test
  void resumedRunsEqualAnUninterruptedRun(@TempDir Path tmp) throws Exception {
    Path full = tmp.resolve("full");
    new Trainer().train(recipe(2, ""), full, false, null, null);

    // Epoch boundary: 1 epoch, then resume to 2.
    Path split = tmp.resolve("split");
    new Trainer().train(recipe(1, ""), split, false, null, null);
    TrainingResult r = new Trainer().train(recipe(2, ""), split, true, null, null);
    assertEquals(2, r.epochsCompleted());
    List<JsonNode> m = metrics(split);
    assertEquals(List.of(1, 2), m.stream().map(n -> n.get("epoch").asInt()).toList());
    assertSameWeights(
        full.resolve("checkpoints/epoch-0002"), split.resolve("checkpoints/epoch-0002"));

    // Mid-epoch: stopped after 7 steps (epoch 2, step 2), with a stale metrics line for epoch 2
    // as a killed run might leave; resumed.
    Path mid = tmp.resolve("mid");
    Trainer t = new Trainer();
    t.stopAtGlobalStep = 7;
    TrainingResult stopped = t.train(recipe(2, ""), mid, false, null, null);
    assertTrue(stopped.interrupted());
    assertTrue(Files.isDirectory(mid.resolve("checkpoints/epoch-0001-step-000002")));
    Files.writeString(
        mid.resolve("metrics.jsonl"),
        "{\"epoch\":2}\n{\"epo",
        java.nio.file.StandardOpenOption.APPEND);
    new Trainer().train(recipe(2, ""), mid, true, null, null);
    m = metrics(mid);
    assertEquals(List.of(1, 2), m.stream().map(n -> n.get("epoch").asInt()).toList());
    assertEquals(2, m.get(1).get("resumed_at_step").asInt());
    assertSameWeights(
        full.resolve("checkpoints/epoch-0002"), mid.resolve("checkpoints/epoch-0002"));
  }
}
