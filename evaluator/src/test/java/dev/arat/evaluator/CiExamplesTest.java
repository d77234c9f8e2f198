package dev.arat.evaluator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.Specs;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The example suite shipped in ci/ stays a valid suite. */
class CiExamplesTest {
  @Test
  void exampleSuiteLoads() {
    Path file = Path.of("..", "ci", "robustness-suite.yaml");
    assertTrue(Files.exists(file), file.toAbsolutePath().toString());
    EvaluationSuite s = Specs.readSuite(file);
    assertEquals(3, s.epsilons().size());
    assertTrue(s.gates().useLowerBound());
    assertTrue(s.checks().fullRangePgd());
  }
}
