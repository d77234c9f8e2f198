package dev.arat.trainer;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.arat.specs.Builtins;
import dev.arat.specs.Specs;
import dev.arat.specs.TrainingRecipe;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Trains the built-in demo recipe on Fashion-MNIST and checks the accuracy targets. Slow (minutes):
 * runs only with {@code -Darat.slowTests=true}; {@code -Darat.recipe=FILE} trains another recipe.
 */
class DemoRecipeSlowTest {
  @Test
  void demoRecipeReachesTheTargets() throws Exception {
    assumeTrue(Boolean.getBoolean("arat.slowTests"), "slow test: set -Darat.slowTests=true");
    String file = System.getProperty("arat.recipe");
    TrainingRecipe recipe =
        file != null ? Specs.readRecipe(Path.of(file)) : Builtins.recipe("demo");
    Path run = Path.of("target", "demo-run-" + System.currentTimeMillis());
    TrainingResult r = new Trainer().train(recipe, run, false, null, System.out);
    System.out.println(Files.readString(run.resolve("metrics.jsonl")));
    EpochMetrics.Evaluation m = r.lastMetrics().evaluation();
    double clean = m.cleanAccuracyAdvBn();
    double pgd = m.pgdAccuracy();
    assertTrue(clean >= 0.70, "clean accuracy " + clean);
    assertTrue(pgd >= 0.45, "PGD accuracy " + pgd);
  }
}
