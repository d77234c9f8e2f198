package dev.arat.specs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SpecsTest {
  private static final String SUITE =
      String.join(
          "\n",
          "name: demo",
          "samples: 100",
          "seed: 3",
          "threat_model: {norm: Linf, epsilon: 0.1}",
          "attacks:",
          "  - type: fgsm",
          "  - {type: pgd, steps: 20, step_size: 0.01, restarts: 2, loss: margin}",
          "gates: {min_clean_accuracy: 0.7, min_robust_accuracy: 0.4}",
          "");

  @Test
  void suiteParsesWithDefaults() {
    EvaluationSuite s = Specs.parse(SUITE, EvaluationSuite.class, "suite.yaml");
    assertEquals(100, s.samples());
    assertEquals(Norm.LINF, s.threatModel().norm());
    assertEquals(2, s.attacks().size());
    AttackSpec.Pgd pgd = assertInstanceOf(AttackSpec.Pgd.class, s.attacks().get(1));
    assertEquals(LossHead.MARGIN, pgd.loss());
    assertEquals(2, pgd.restarts());
    assertNull(s.data().dataset()); // resolved from the model's metadata at run time
    assertEquals(0.4, s.gates().minRobustAccuracy());
  }

  @Test
  void suiteRoundTripsThroughYaml() {
    EvaluationSuite s = Specs.parse(SUITE, EvaluationSuite.class, "suite.yaml");
    EvaluationSuite again = Specs.parse(Specs.toYaml(s), EvaluationSuite.class, "again.yaml");
    assertEquals(s, again);
  }

  @Test
  void unknownTopLevelKeyIsNamed() {
    SpecException e =
        assertThrows(
            SpecException.class,
            () -> Specs.parse(SUITE + "colour: blue\n", EvaluationSuite.class, "suite.yaml"));
    assertTrue(e.getMessage().contains("unknown key 'colour'"), e.getMessage());
    assertTrue(e.getMessage().startsWith("suite.yaml: "), e.getMessage());
  }

  @Test
  void nestedUnknownKeyNamesItsPath() {
    String bad = SUITE.replace("restarts: 2", "restart: 2");
    SpecException e =
        assertThrows(
            SpecException.class, () -> Specs.parse(bad, EvaluationSuite.class, "suite.yaml"));
    assertTrue(e.getMessage().contains("unknown key 'restart' in attacks[1]"), e.getMessage());
  }

  @Test
  void impossibleValueNamesFieldAndValue() {
    String bad = SUITE.replace("steps: 20", "steps: -3");
    SpecException e =
        assertThrows(
            SpecException.class, () -> Specs.parse(bad, EvaluationSuite.class, "suite.yaml"));
    assertTrue(e.getMessage().contains("attacks[1]: steps: must be > 0, was -3"), e.getMessage());
  }

  @Test
  void wrongTypeIsAnError() {
    String bad = SUITE.replace("samples: 100", "samples: many");
    SpecException e =
        assertThrows(
            SpecException.class, () -> Specs.parse(bad, EvaluationSuite.class, "suite.yaml"));
    assertTrue(e.getMessage().contains("samples"), e.getMessage());
  }

  @Test
  void unknownAttackTypeAndNorm() {
    SpecException e =
        assertThrows(
            SpecException.class,
            () ->
                Specs.parse(
                    SUITE.replace("type: fgsm", "type: magic"), EvaluationSuite.class, "s"));
    assertTrue(e.getMessage().contains("unknown type 'magic'"), e.getMessage());
    e =
        assertThrows(
            SpecException.class,
            () -> Specs.parse(SUITE.replace("norm: Linf", "norm: L7"), EvaluationSuite.class, "s"));
    assertTrue(e.getMessage().contains("L7"), e.getMessage());
  }

  @Test
  void emptyAndMalformedFiles() {
    assertThrows(SpecException.class, () -> Specs.parse("  \n", EvaluationSuite.class, "s"));
    SpecException e =
        assertThrows(
            SpecException.class, () -> Specs.parse("samples: [1, 2\n", EvaluationSuite.class, "s"));
    assertTrue(e.getMessage().startsWith("s: "), e.getMessage());
  }

  @Test
  void recipeDefaultsAndValidation() {
    TrainingRecipe r = Specs.parse("method: pgd-at\nepochs: 3\n", TrainingRecipe.class, "r.yaml");
    assertEquals(3, r.epochs());
    assertEquals(0.1, r.optimizer().lr());
    assertEquals("x->y", r.arat().align());
    SpecException e =
        assertThrows(
            SpecException.class,
            () -> Specs.parse("arat: {gama: 3}\n", TrainingRecipe.class, "r.yaml"));
    assertTrue(e.getMessage().contains("unknown key 'gama' in arat"), e.getMessage());
    e =
        assertThrows(
            SpecException.class,
            () -> Specs.parse("method: magic\n", TrainingRecipe.class, "r.yaml"));
    assertTrue(e.getMessage().contains("method: must be one of"), e.getMessage());
  }

  @Test
  void piecewiseAndCosineSchedules() {
    TrainingRecipe.Schedule p =
        new TrainingRecipe.Schedule("piecewise", java.util.List.of(75.0, 90.0), 0.1, 0.0);
    assertEquals(0.1, p.at(0.1, 10, 100), 1e-12);
    assertEquals(0.01, p.at(0.1, 75, 100), 1e-12);
    assertEquals(0.001, p.at(0.1, 95, 100), 1e-12);
    TrainingRecipe.Schedule c = new TrainingRecipe.Schedule("cosine", null, null, 1.0);
    assertEquals(0.05, c.at(0.1, 0.5, 10), 1e-12); // half-way through warm-up
    assertEquals(0.05, c.at(0.1, 5.5, 10), 1e-12); // half-way through the cosine
    assertEquals(0.0, c.at(0.1, 10, 10), 1e-12);
  }

  @Test
  void architectureRoundTripsThroughJson() {
    ArchitectureSpec a =
        Architectures.smallCnn(1, 28, 28, 10, new float[] {0.5f}, new float[] {0.25f});
    ArchitectureSpec b = Specs.parse(Specs.toJson(a), ArchitectureSpec.class, "architecture.json");
    assertEquals(a.layers(), b.layers());
    assertEquals(a.taps(), b.taps());
    assertEquals(0.5f, b.mean()[0]);
  }

  @Test
  void architectureRejectsBadTapsAndDuplicates() {
    var layers = java.util.List.<LayerSpec>of(new LayerSpec.Relu("a"), new LayerSpec.Relu("a"));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            new ArchitectureSpec(
                "x", 1, 4, 4, 2, new float[] {0}, new float[] {1}, layers, null, 1e-5, 0.1));
    var ok = java.util.List.<LayerSpec>of(new LayerSpec.Relu("a"));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            new ArchitectureSpec(
                "x",
                1,
                4,
                4,
                2,
                new float[] {0},
                new float[] {1},
                ok,
                java.util.List.of("b"),
                1e-5,
                0.1));
  }
}
