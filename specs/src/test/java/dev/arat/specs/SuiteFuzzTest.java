package dev.arat.specs;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;

/**
 * Fuzzes evaluation-suite YAML: any text must give a suite or a {@link SpecException} (exit 2).
 * Without {@code JAZZER_FUZZ} this replays {@code SuiteFuzzTestInputs/suite/}; see docs/fuzzing.md.
 */
class SuiteFuzzTest {
  @FuzzTest(maxDuration = "3m")
  void suite(byte[] input) {
    try {
      Specs.parse(new String(input, StandardCharsets.UTF_8), EvaluationSuite.class, "suite.yaml");
    } catch (SpecException expected) {
      // a clear input error is the right answer to a bad file
    }
  }
}
