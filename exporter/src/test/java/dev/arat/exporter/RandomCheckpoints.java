package dev.arat.exporter;

import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.LayerSpec;
import dev.arat.specs.Tensor;
import dev.arat.specs.TrainingRecipe;
import dev.arat.specs.TrainingState;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Test fixture generator: a checkpoint of {@code arch} with seeded random weights for every name of
 * the ArchitectureSpec naming contract ({@link ArchitectureSpec#weightShapes}, so residual units,
 * their {@code pre} layers and shortcuts are covered), with non-trivial BN statistics in both
 * branches. Conv and linear weights are uniform in {@code ±sqrt(3/fan_in)}, biases in {@code ±0.1};
 * BN gamma in {@code 1±0.3}, beta in {@code ±0.2}, running mean in {@code ±0.5}, running variance
 * in {@code 1±0.5}. Draws follow the weight order, one generator per checkpoint.
 */
final class RandomCheckpoints {
  private RandomCheckpoints() {}

  static Checkpoint of(ArchitectureSpec arch, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    Set<String> bnLayers = new HashSet<>();
    for (LayerSpec l : arch.allLayers()) {
      if (l instanceof LayerSpec.BatchNorm) {
        bnLayers.add(l.name());
      }
    }
    Map<String, Tensor> w = new LinkedHashMap<>();
    for (Map.Entry<String, long[]> e : arch.weightShapes(true).entrySet()) {
      String key = e.getKey();
      long[] shape = e.getValue();
      int dot = key.lastIndexOf('.');
      String owner = key.substring(0, dot);
      String what = key.substring(dot + 1);
      String bnName =
          owner.endsWith(".adv")
              ? owner.substring(0, owner.length() - 4)
              : owner.endsWith(".clean") ? owner.substring(0, owner.length() - 6) : null;
      if (bnName != null && bnLayers.contains(bnName)) {
        int n = (int) shape[0];
        w.put(
            key,
            switch (what) {
              case "weight" -> around(rng, 1.0, 0.3, n);
              case "bias" -> uniform(rng, 0.2, n);
              case "running_mean" -> uniform(rng, 0.5, n);
              default -> around(rng, 1.0, 0.5, n);
            });
      } else if (what.equals("weight")) {
        long fanIn = 1;
        for (int i = 1; i < shape.length; i++) {
          fanIn *= shape[i];
        }
        w.put(key, uniform(rng, Math.sqrt(3.0 / fanIn), shape));
      } else {
        w.put(key, uniform(rng, 0.1, shape));
      }
    }
    TrainingRecipe recipe =
        new TrainingRecipe("arat", seed, null, null, 1, null, null, null, null, null, null, null);
    TrainingState state = new TrainingState(1, 0, 10, 0.5, 0, Map.of("tool_version", "test"));
    return new Checkpoint(arch, recipe, w, Map.of(), state);
  }

  private static Tensor uniform(SplittableRandom rng, double bound, long... shape) {
    int n = 1;
    for (long d : shape) {
      n *= (int) d;
    }
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) rng.nextDouble(-bound, bound);
    }
    return new Tensor(shape, v);
  }

  private static Tensor around(SplittableRandom rng, double centre, double spread, int n) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (centre + rng.nextDouble(-spread, spread));
    }
    return new Tensor(new long[] {n}, v);
  }
}
