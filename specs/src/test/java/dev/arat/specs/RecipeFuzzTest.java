package dev.arat.specs;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;

/**
 * Fuzzes training-recipe YAML: any text must give a recipe or a {@link SpecException} (exit 2).
 * Without {@code JAZZER_FUZZ} this replays {@code RecipeFuzzTestInputs/recipe/}; see
 * docs/fuzzing.md.
 */
class RecipeFuzzTest {
  @FuzzTest(maxDuration = "3m")
  void recipe(byte[] input) {
    try {
      Specs.parse(new String(input, StandardCharsets.UTF_8), TrainingRecipe.class, "recipe.yaml");
    } catch (SpecException expected) {
      // a clear input error is the right answer to a bad file
    }
  }
}
