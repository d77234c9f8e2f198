package dev.arat.specs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The suite keys of sweeps, checks and gates: defaults, validation with paths, round trips. */
class EvaluationSuiteTest {
  static final String BASE =
      String.join(
          "\n",
          "name: s",
          "samples: 10",
          "threat_model: {norm: Linf, epsilon: 0.1}",
          "attacks: [{type: fgsm}]",
          "");

  static EvaluationSuite parse(String extra) {
    return Specs.parse(BASE + extra, EvaluationSuite.class, "s.yaml");
  }

  static String error(String extra) {
    return assertThrows(SpecException.class, () -> parse(extra)).getMessage();
  }

  @Test
  void defaults() {
    EvaluationSuite s = parse("");
    assertNull(s.epsilonSweep());
    assertEquals(List.of(0.1), s.epsilons());
    assertTrue(s.checks().randomness() && s.checks().zeroGradient());
    assertFalse(s.checks().fullRangePgd());
    assertEquals(64, s.checks().probeSamples());
    assertFalse(s.gates().useLowerBound());
    assertEquals("wilson", s.gates().interval());
  }

  @Test
  void everyNewKeyParsesAndRoundTrips() {
    EvaluationSuite s =
        parse(
            String.join(
                "\n",
                "epsilon_sweep: [0.05, 0.1, 0.2]",
                "checks: {full_range_pgd: true, full_range_steps: 7, chance_margin: 0.2, probe_samples: 5}",
                "gates:",
                "  min_clean_accuracy: 0.8",
                "  min_robust_accuracy: 0.4",
                "  min_robust_accuracy_at: [{epsilon: 0.2, min: 0.1, use_lower_bound: true}]",
                "  min_class_robust_accuracy: 0.2",
                "  max_robust_drop: 0.02",
                "  use_lower_bound: true",
                "  interval: clopper-pearson",
                ""));
    assertEquals(List.of(0.1, 0.05, 0.2), s.epsilons());
    assertEquals(7, s.checks().fullRangeSteps());
    assertEquals("clopper_pearson", s.gates().interval());
    assertEquals(0.2, s.gates().minRobustAccuracyAt().get(0).epsilon());
    assertEquals(s, Specs.parse(Specs.toYaml(s), EvaluationSuite.class, "again.yaml"));
    EvaluationSuite legacy =
        new EvaluationSuite(
            s.name(),
            s.data(),
            s.samples(),
            s.seed(),
            s.batchSize(),
            s.threatModel(),
            s.attacks(),
            new EvaluationSuite.Gates(0.5, 0.2));
    assertNull(legacy.epsilonSweep());
    assertEquals(0.2, legacy.withMinRobustAccuracy(0.2).gates().minRobustAccuracy());
  }

  @Test
  void badValuesNameTheirPath() {
    assertTrue(
        error("epsilon_sweep: [0.2, 0.1]\n")
            .contains("epsilon_sweep[1]: must be strictly increasing"));
    assertTrue(error("epsilon_sweep: [0.1, -1]\n").contains("epsilon_sweep[1]: must be > 0"));
    assertTrue(
        error("gates: {min_class_robust_accuracy: 2}\n")
            .contains("min_class_robust_accuracy: must be in [0,1]"));
    assertTrue(error("gates: {interval: bayes}\n").contains("interval: must be one of"));
    assertTrue(
        error("gates: {min_robust_accuracy_at: [{epsilon: 0.3, min: 0.1}]}\n")
            .contains("min_robust_accuracy_at[0].epsilon: 0.3 is neither"));
    assertTrue(
        error("gates: {min_robust_accuracy_at: [{epsilon: 0.1}]}\n").contains("min: required"));
    assertTrue(error("checks: {probe_samples: 0}\n").contains("probe_samples: must be > 0"));
    assertTrue(error("checks: {colour: red}\n").contains("unknown key 'colour' in checks"));
    assertTrue(error("gates: {max_drop: 0.1}\n").contains("unknown key 'max_drop' in gates"));
  }

  @Test
  void dataSectionForTheUsersOwnFiles() {
    EvaluationSuite s = parse("data: {format: NPY, x: x.npy, y: y.npy, layout: NHWC}\n");
    assertEquals("npy", s.data().format());
    assertEquals("nhwc", s.data().layout());
    assertTrue(s.saveAdversarial());
    assertFalse(parse("save_adversarial: false\n").saveAdversarial());
    EvaluationSuite f =
        parse("data: {format: folder, path: imgs, image_size: 28, channels: 1, resize: resize}\n");
    assertEquals(28, f.data().imageSize());
    assertEquals("imgs2", f.withDataPath("imgs2").data().path());
    assertEquals(
        "x2.npy", s.withDataPath("x2.npy").data().x()); // --data replaces the images file of a pair
    assertEquals(
        f,
        Specs.parse(Specs.json().valueToTree(f).toString(), EvaluationSuite.class, "round.json"));

    assertTrue(
        error("data: {format: npy, x: x.npy}\n").contains("data: y: required with format npy"));
    assertTrue(
        error("data: {dataset: mnist, format: npz, path: a.npz}\n").contains("either dataset"));
    assertTrue(error("data: {format: npz}\n").contains("path: required with format npz"));
    assertTrue(
        error("data: {format: hdf5, path: a}\n")
            .contains("format: must be one of [npy, npz, folder, idx]"));
    assertTrue(
        error("data: {dataset: mnist, image_size: 28}\n")
            .contains("image_size: only used with format folder"));
    assertTrue(
        error("data: {format: folder, path: p, channels: 2}\n")
            .contains("channels: must be 1 or 3"));
    assertTrue(
        error("data: {format: folder, path: p, resize: resize}\n")
            .contains("resize: needs image_size"));
    assertTrue(
        error("data: {format: npy, x: a, y: b, layout: chw}\n")
            .contains("layout: must be nchw or nhwc"));
    assertTrue(error("data: {format: npy, x: a, y: b, labels: c}\n").contains("labels"));
  }
}
