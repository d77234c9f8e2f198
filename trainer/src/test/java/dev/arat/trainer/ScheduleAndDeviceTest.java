package dev.arat.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import dev.arat.attack.ImageBatch;
import dev.arat.data.ImageDataset;
import dev.arat.data.SyntheticDataset;
import dev.arat.specs.SpecException;
import dev.arat.specs.Specs;
import dev.arat.specs.TrainingRecipe;
import dev.arat.trainer.nn.Sgd;
import dev.arat.trainer.nn.SplitBnNetwork;
import org.junit.jupiter.api.Test;

/** Learning-rate schedules, SGD (with Nesterov) and the device choice. */
class ScheduleAndDeviceTest {
  static TrainingRecipe.Schedule schedule(String yaml) {
    return Specs.parse("schedule: " + yaml + "\n", TrainingRecipe.class, "t").schedule();
  }

  @Test
  void paperSchedule() {
    TrainingRecipe.Schedule s = schedule("{type: piecewise}");
    assertEquals(0.1, s.at(0.1, 0, 100), 1e-12);
    assertEquals(0.1, s.at(0.1, 74.99, 100), 1e-12);
    assertEquals(0.01, s.at(0.1, 75, 100), 1e-12);
    assertEquals(0.001, s.at(0.1, 90, 100), 1e-12);
  }

  @Test
  void releasedCodesShiftedSchedule() {
    // ARAT-METHOD §4: epoch 1 at 0.02, epochs 2-76 at 0.1, 77-91 at 0.01, 92-100 at 0.001.
    // Fractional epoch t = (epoch - 1) + progress.
    TrainingRecipe.Schedule s =
        schedule("{type: piecewise, milestones: [76, 91], first_epoch_lr: 0.02}");
    assertEquals(0.02, s.at(0.1, 0.0, 100), 1e-12);
    assertEquals(0.02, s.at(0.1, 0.99, 100), 1e-12);
    assertEquals(0.1, s.at(0.1, 1.0, 100), 1e-12); // epoch 2
    assertEquals(0.1, s.at(0.1, 75.5, 100), 1e-12); // epoch 76
    assertEquals(0.01, s.at(0.1, 76.0, 100), 1e-12); // epoch 77
    assertEquals(0.01, s.at(0.1, 90.5, 100), 1e-12); // epoch 91
    assertEquals(0.001, s.at(0.1, 91.0, 100), 1e-12); // epoch 92
    assertThrows(SpecException.class, () -> schedule("{first_epoch_lr: 0}"));
  }

  @Test
  void cosineWithWarmup() {
    TrainingRecipe.Schedule s = schedule("{type: cosine, warmup_epochs: 2}");
    assertEquals(0.0, s.at(0.1, 0, 10), 1e-12);
    assertEquals(0.05, s.at(0.1, 1, 10), 1e-12);
    assertEquals(0.1, s.at(0.1, 2, 10), 1e-12);
    assertEquals(0.05, s.at(0.1, 6, 10), 1e-12);
    assertEquals(0.0, s.at(0.1, 10, 10), 1e-12);
    TrainingRecipe.Schedule c = schedule("{type: constant}");
    assertEquals(0.1, c.at(0.1, 7.3, 10), 1e-12);
  }

  @Test
  void sgdWithAndWithoutNesterovFollowsPyTorch() {
    // (momentum, weight decay, Nesterov): each branch of the update
    double[][] configs = {{0.9, 0.01, 0}, {0.9, 0.01, 1}, {0, 0.01, 0}, {0.9, 0, 0}};
    for (double[] c : configs) {
      boolean nesterov = c[2] == 1;
      TrainingRecipe r = Specs.parse("method: standard\nseed: 2\n", TrainingRecipe.class, "t");
      ImageDataset d = SyntheticDataset.generate(1, 8, 1, 28, 28, 10);
      ImageBatch x = new ImageBatch(d.pixels(), 8, 1, 28, 28);
      double mu = c[0];
      double wd = c[1];
      double lr = 0.1;
      try (NDManager m = NDManager.newBaseManager();
          SplitBnNetwork net = Trainer.newNetwork(r, ObjectiveTest.SMALL, m)) {
        Objective o = new Objective(r, net);
        Sgd sgd = new Sgd(net, mu, wd, nesterov);
        // a linear weight and a (channels-last) conv weight
        String[] keys = {"fc2.weight", "conv1.weight"};
        float[][][] w = new float[3][keys.length][];
        float[][][] g = new float[2][keys.length][];
        for (int j = 0; j < keys.length; j++) {
          w[0][j] = net.parameters().get(keys[j]).toFloatArray();
        }
        for (int t = 0; t < 2; t++) {
          try (NDManager s = net.manager().newSubManager()) {
            o.backward(s, x, x, d.labels(), 1, 1, Objective.allTerms());
          }
          for (int j = 0; j < keys.length; j++) {
            g[t][j] = net.parameters().get(keys[j]).getGradient().toFloatArray();
          }
          try (NDManager s = net.manager().newSubManager()) {
            sgd.step(lr, s);
          }
          for (int j = 0; j < keys.length; j++) {
            w[t + 1][j] = net.parameters().get(keys[j]).toFloatArray();
          }
        }
        for (int j = 0; j < keys.length; j++) {
          String where = keys[j] + " mu=" + mu + " wd=" + wd + " nesterov=" + nesterov;
          for (int i = 0; i < w[0][j].length; i += 97) {
            double d1 = g[0][j][i] + wd * w[0][j][i];
            double v1 = d1;
            double u1 = nesterov ? d1 + mu * v1 : v1;
            assertEquals(w[0][j][i] - lr * u1, w[1][j][i], 1e-6, where);
            double d2 = g[1][j][i] + wd * w[1][j][i];
            double v2 = mu * v1 + d2;
            double u2 = nesterov ? d2 + mu * v2 : v2;
            assertEquals(w[1][j][i] - lr * u2, w[2][j][i], 1e-6, where);
          }
        }
      }
    }
  }

  @Test
  void deviceChoice() {
    assertEquals(Device.cpu(), Devices.resolve("auto", 0));
    assertEquals(Device.gpu(0), Devices.resolve("auto", 2));
    assertEquals(Device.cpu(), Devices.resolve("cpu", 2));
    assertEquals(Device.gpu(1), Devices.resolve("gpu:1", 2));
    assertEquals(Device.gpu(0), Devices.resolve("gpu", 1));
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> Devices.resolve("gpu", 0));
    assertTrue(e.getMessage().contains("0 GPU"), e.getMessage());
    assertThrows(IllegalStateException.class, () -> Devices.resolve("gpu:2", 2));
    assertThrows(IllegalArgumentException.class, () -> Devices.resolve("tpu", 2));
    assertThrows(
        SpecException.class, () -> Specs.parse("device: tpu\n", TrainingRecipe.class, "t"));
    // this build ships the CPU-only native library
    assertEquals(Device.cpu(), Devices.resolve("auto"));
  }

  @Test
  void aGpuRunFailsClearlyOnACpuOnlyBuild(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
    TrainingRecipe r =
        Specs.parse(
            "method: standard\ndevice: gpu\n" + "data: {dataset: synthetic, train_samples: 64}\n",
            TrainingRecipe.class,
            "t");
    IllegalStateException e =
        assertThrows(
            IllegalStateException.class, () -> new Trainer().train(r, dir, false, null, null));
    assertTrue(e.getMessage().contains("device gpu was requested"), e.getMessage());
  }
}
