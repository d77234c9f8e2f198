package dev.arat.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import dev.arat.attack.ImageBatch;
import dev.arat.data.ImageDataset;
import dev.arat.data.SyntheticDataset;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Architectures;
import dev.arat.specs.SpecException;
import dev.arat.specs.Specs;
import dev.arat.specs.TrainingRecipe;
import dev.arat.trainer.nn.Sgd;
import dev.arat.trainer.nn.SplitBnNetwork;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Data-parallel training on two CPU replicas (the multi-device path without GPUs): the update is
 * the whole batch's mean-loss gradient, replicas stay in sync, and a run trains, checkpoints and
 * resumes like a single-device one.
 */
class DataParallelTest {
  static final List<Device> TWO_CPUS = List.of(Device.cpu(), Device.cpu());

  static TrainingRecipe recipe(String method) {
    return Specs.parse(
        "method: "
            + method
            + "\nseed: 5\narchitecture: small-cnn\nbatch_size: 7\n"
            + "attack: {epsilon: 0.1, step_size: 0.05, steps: 2}\n",
        TrainingRecipe.class,
        "test");
  }

  static ArchitectureSpec arch() {
    return Architectures.named("small-cnn", 1, 8, 8, 10, new float[] {0.5f}, new float[] {0.25f});
  }

  static ImageBatch batch(ImageDataset d) {
    return new ImageBatch(d.pixels(), d.size(), 1, 8, 8);
  }

  @Test
  void updateIsTheShardSizeWeightedSumOfShardGradients() {
    TrainingRecipe r = recipe("pgd-at");
    ImageDataset d = SyntheticDataset.generate(2, 7, 1, 8, 8, 10);
    ImageBatch x = batch(d);
    int[] y = d.labels();
    double lr = 0.1;
    try (NDManager root = NDManager.newBaseManager();
        SplitBnNetwork primary = Trainer.newNetwork(r, arch(), root);
        SplitBnNetwork reference = Trainer.newNetwork(r, arch(), root)) {
      reference.copyFrom(primary);
      Objective po = new Objective(r, primary);
      Objective ro = new Objective(r, reference);
      // SGD with momentum and weight decay on both; two steps, so momentum acts
      Sgd referenceSgd = new Sgd(reference, 0.9, 5e-4, false);
      Sgd sgd = new Sgd(primary, 0.9, 5e-4, false);
      int[][] shards = {{0, 3}, {3, 7}};
      try (DataParallel dp = new DataParallel(r, arch(), primary, po, TWO_CPUS)) {
        assertEquals(2, dp.size());
        assertEquals(2, dp.shardsFor(7));
        assertEquals(1, dp.shardsFor(3), "a shard needs two images");
        for (int stepNo = 0; stepNo < 2; stepNo++) {
          // expected: the shard gradients computed one after the other on one network, weighted
          // 3/7 and 4/7, handed to the same optimizer
          Map<String, float[]> expected = new HashMap<>();
          for (int[] s : shards) {
            ImageBatch part = x.select(range(s[0], s[1]));
            int[] ys = Arrays.copyOfRange(y, s[0], s[1]);
            try (NDManager step = reference.manager().newSubManager()) {
              ro.backward(step, part, part, ys, 1, 1, Objective.allTerms());
              for (String n : reference.trainableNames()) {
                float[] g = reference.parameters().get(n).getGradient().toFloatArray();
                float[] acc = expected.computeIfAbsent(n, k -> new float[g.length]);
                for (int i = 0; i < g.length; i++) {
                  acc[i] += g[i] * (s[1] - s[0]) / 7f;
                }
              }
            }
          }
          try (NDManager step = reference.manager().newSubManager()) {
            Map<String, ai.djl.ndarray.NDArray> grads = new HashMap<>();
            for (String n : reference.trainableNames()) {
              grads.put(n, step.create(expected.get(n), reference.parameters().get(n).getShape()));
            }
            referenceSgd.step(lr, step, grads);
          }
          Objective.StepLoss loss = dp.step(x, x, y, 1, 1, sgd, lr);
          assertEquals(7, loss.n());
          for (String n : primary.trainableNames()) {
            float[] w = primary.parameters().get(n).toFloatArray();
            float[] want = reference.parameters().get(n).toFloatArray();
            for (int i = 0; i < w.length; i++) {
              assertEquals(
                  want[i],
                  w[i],
                  1e-6 + 1e-5 * Math.abs(want[i]),
                  n + " after step " + (stepNo + 1));
            }
          }
          for (String n : primary.parameters().keySet()) {
            assertArrayEquals(
                primary.parameters().get(n).toFloatArray(),
                dp.network(1).parameters().get(n).toFloatArray(),
                "the replica follows the primary, running statistics too: " + n);
          }
        }
      }
    }
  }

  @Test
  void aShardSizeWeightingErrorWouldShow() {
    // the shards' gradients differ enough that weighting them 1/2 each instead of 3/7 and 4/7
    // moves some weight by far more than the tolerance above
    TrainingRecipe r = recipe("standard");
    ImageDataset d = SyntheticDataset.generate(2, 7, 1, 8, 8, 10);
    ImageBatch x = batch(d);
    try (NDManager root = NDManager.newBaseManager();
        SplitBnNetwork net = Trainer.newNetwork(r, arch(), root)) {
      Objective o = new Objective(r, net);
      float[][] g = new float[2][];
      int[][] shards = {{0, 3}, {3, 7}};
      for (int k = 0; k < 2; k++) {
        ImageBatch part = x.select(range(shards[k][0], shards[k][1]));
        try (NDManager step = net.manager().newSubManager()) {
          o.backward(
              step,
              part,
              part,
              Arrays.copyOfRange(d.labels(), shards[k][0], shards[k][1]),
              1,
              1,
              Objective.allTerms());
          g[k] = net.parameters().get("fc2.weight").getGradient().toFloatArray();
        }
      }
      double worst = 0;
      for (int i = 0; i < g[0].length; i++) {
        double right = 0.1 * (3 * g[0][i] + 4 * g[1][i]) / 7;
        double wrong = 0.1 * (g[0][i] + g[1][i]) / 2;
        worst = Math.max(worst, Math.abs(right - wrong));
      }
      assertTrue(worst > 1e-4, "largest difference " + worst);
    }
  }

  @Test
  void shardsAreAttackedOnTheirReplicasWithPerSampleStarts() {
    TrainingRecipe r = recipe("pgd-at");
    ImageDataset d = SyntheticDataset.generate(3, 9, 1, 8, 8, 10);
    ImageBatch x = batch(d);
    long[] ids = new long[9];
    for (int i = 0; i < ids.length; i++) {
      ids[i] = 100 + i;
    }
    try (NDManager root = NDManager.newBaseManager();
        SplitBnNetwork primary = Trainer.newNetwork(r, arch(), root)) {
      Objective po = new Objective(r, primary);
      ImageBatch expected0 =
          po.adversarial(
              x.select(range(0, 4)),
              Arrays.copyOfRange(d.labels(), 0, 4),
              Arrays.copyOfRange(ids, 0, 4),
              11);
      ImageBatch expected1 =
          po.adversarial(
              x.select(range(4, 9)),
              Arrays.copyOfRange(d.labels(), 4, 9),
              Arrays.copyOfRange(ids, 4, 9),
              11);
      try (DataParallel dp = new DataParallel(r, arch(), primary, po, TWO_CPUS)) {
        float[] adv = dp.adversarial(x, d.labels(), ids, 11).data();
        float[] want = new float[adv.length];
        System.arraycopy(expected0.data(), 0, want, 0, expected0.data().length);
        System.arraycopy(
            expected1.data(), 0, want, expected0.data().length, expected1.data().length);
        int differ = 0;
        for (int i = 0; i < adv.length; i++) {
          assertTrue(Math.abs(adv[i] - x.data()[i]) <= 0.1 + 1e-6, "within the budget");
          differ += Math.abs(adv[i] - want[i]) > 1e-6 ? 1 : 0;
        }
        // a sign step may flip where a gradient entry is ~0 and threads sum in another order
        assertTrue(differ <= adv.length / 100, differ + " of " + adv.length + " pixels differ");
      }
    }
  }

  @Test
  void aratRunOnTwoCpuReplicasTrainsCheckpointsAndResumesExactly(@TempDir Path dir)
      throws Exception {
    TrainingRecipe r = TrainerTest.recipe(2, "device: cpu,cpu\n");
    Path full = dir.resolve("full");
    TrainingResult a = new Trainer().train(r, full, false, null, null);
    assertEquals(10, a.globalStep());
    List<JsonNode> m = TrainerTest.metrics(full);
    assertEquals(2, m.size());
    assertTrue(m.get(1).get("loss").asDouble() > 0);
    assertTrue(m.get(1).hasNonNull("pgd_accuracy"));
    Path again = dir.resolve("again");
    new Trainer().train(r, again, false, null, null);
    TrainerTest.assertSameWeights(
        full.resolve("checkpoints/epoch-0002"), again.resolve("checkpoints/epoch-0002"));
    // an interrupted run resumed from its mid-epoch checkpoint ends with the same weights
    Path split = dir.resolve("split");
    Trainer first = new Trainer();
    first.stopAtGlobalStep = 7;
    TrainingResult b = first.train(r, split, false, null, null);
    assertTrue(b.interrupted());
    new Trainer().train(r, split, true, null, null);
    TrainerTest.assertSameWeights(
        full.resolve("checkpoints/epoch-0002"), split.resolve("checkpoints/epoch-0002"));
    assertEquals(
        "2",
        dev.arat.specs.Checkpoint.read(split.resolve("checkpoints/epoch-0002"))
            .state()
            .provenance()
            .get("replicas"));
    // resuming on one device is allowed, with a warning that the BN statistics change
    Path moved = dir.resolve("moved");
    Trainer again2 = new Trainer();
    again2.stopAtGlobalStep = 3;
    again2.train(r, moved, false, null, null);
    java.io.ByteArrayOutputStream log = new java.io.ByteArrayOutputStream();
    new Trainer()
        .train(
            TrainerTest.recipe(2, "device: cpu\n"),
            moved,
            true,
            null,
            new java.io.PrintStream(log, true, java.nio.charset.StandardCharsets.UTF_8));
    assertTrue(
        log.toString(java.nio.charset.StandardCharsets.UTF_8)
            .contains(
                "resuming with 1 data-parallel replica(s) where the checkpoint was written with 2"),
        log.toString(java.nio.charset.StandardCharsets.UTF_8));
  }

  @Test
  void deviceListsAreParsedAndGpuRequestsChecked() {
    assertEquals(TWO_CPUS, Devices.resolveAll("cpu,cpu", 0));
    assertEquals(List.of(Device.gpu(0), Device.gpu(1)), Devices.resolveAll("gpu:0,1", 2));
    assertEquals(List.of(Device.gpu(1), Device.gpu(0)), Devices.resolveAll("gpu:1, gpu:0", 2));
    assertEquals(
        List.of(Device.gpu(0), Device.gpu(1), Device.gpu(2)), Devices.resolveAll("gpu:all", 3));
    assertThrows(IllegalStateException.class, () -> Devices.resolveAll("gpu:all", 0));
    assertThrows(IllegalStateException.class, () -> Devices.resolveAll("gpu:0,1", 1));
    IllegalArgumentException twice =
        assertThrows(IllegalArgumentException.class, () -> Devices.resolveAll("gpu:0,gpu:0", 2));
    assertTrue(twice.getMessage().contains("listed twice"), twice.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Devices.resolveAll("cpu,1", 2));
    assertThrows(IllegalArgumentException.class, () -> Devices.resolve("cpu,cpu", 0));
    // the recipe validates the syntax, naming the field
    SpecException bad =
        assertThrows(SpecException.class, () -> TrainerTest.recipe(1, "device: gpu;1\n"));
    assertTrue(bad.getMessage().contains("device"), bad.getMessage());
    assertEquals("gpu:0,1", TrainerTest.recipe(1, "device: 'gpu:0, 1'\n").device());
  }

  static int[] range(int from, int to) {
    int[] r = new int[to - from];
    for (int i = 0; i < r.length; i++) {
      r[i] = from + i;
    }
    return r;
  }
}
