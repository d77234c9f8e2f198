package dev.arat.exporter;

import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.LayerSpec;
import dev.arat.specs.Tensor;
import dev.arat.specs.TrainingRecipe;
import dev.arat.specs.TrainingState;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Test fixture generator: a checkpoint of {@code arch} with seeded random weights for every name of
 * the ArchitectureSpec naming contract, with non-trivial BN statistics in both branches.
 */
final class RandomCheckpoints {
  private RandomCheckpoints() {}

  static Checkpoint of(ArchitectureSpec arch, long seed) {
    SplittableRandom rng = new SplittableRandom(seed);
    Map<String, Tensor> w = new LinkedHashMap<>();
    int c = arch.channels();
    int h = arch.height();
    int wd = arch.width();
    int f = 0;
    for (LayerSpec l : arch.layers()) {
      if (l instanceof LayerSpec.Conv conv) {
        int fanIn = c * conv.kernel() * conv.kernel();
        w.put(conv.name() + ".weight", uniform(rng, Math.sqrt(3.0 / fanIn), conv.outChannels(), c, conv.kernel(), conv.kernel()));
        if (conv.bias()) {
          w.put(conv.name() + ".bias", uniform(rng, 0.1, conv.outChannels()));
        }
        h = (h + 2 * conv.padding() - conv.kernel()) / conv.stride() + 1;
        wd = (wd + 2 * conv.padding() - conv.kernel()) / conv.stride() + 1;
        c = conv.outChannels();
      } else if (l instanceof LayerSpec.BatchNorm bn) {
        int n = f > 0 ? f : c;
        for (String branch : new String[] {"adv", "clean"}) {
          String p = bn.name() + "." + branch + ".";
          w.put(p + "weight", around(rng, 1.0, 0.3, n));
          w.put(p + "bias", uniform(rng, 0.2, n));
          w.put(p + "running_mean", uniform(rng, 0.5, n));
          w.put(p + "running_var", around(rng, 1.0, 0.5, n));
        }
      } else if (l instanceof LayerSpec.MaxPool p) {
        h = (h - p.kernel()) / p.stride() + 1;
        wd = (wd - p.kernel()) / p.stride() + 1;
      } else if (l instanceof LayerSpec.Flatten) {
        f = c * h * wd;
      } else if (l instanceof LayerSpec.Linear lin) {
        w.put(lin.name() + ".weight", uniform(rng, Math.sqrt(3.0 / f), lin.outFeatures(), f));
        if (lin.bias()) {
          w.put(lin.name() + ".bias", uniform(rng, 0.1, lin.outFeatures()));
        }
        f = lin.outFeatures();
      }
    }
    TrainingRecipe recipe = new TrainingRecipe("arat", seed, null, null, 1, null, null, null, null, null, null, null);
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
