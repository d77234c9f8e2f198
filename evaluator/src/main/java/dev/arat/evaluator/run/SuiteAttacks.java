package dev.arat.evaluator.run;

import dev.arat.attack.Attack;
import dev.arat.attack.Attacks;
import dev.arat.attack.GradientClassifier;
import dev.arat.evaluator.checks.Diagnostic;
import dev.arat.specs.AttackSpec;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.SpecException;
import dev.arat.specs.ThreatModel;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The attacks of a suite, built for a model's class count, each seeded from the suite's seed. */
final class SuiteAttacks {
  private SuiteAttacks() {}

  /**
   * Builds the suite's attacks at the threat model's radius; see {@link #build(EvaluationSuite,
   * ThreatModel, int)}.
   */
  static List<Attack> build(EvaluationSuite suite, int numClasses) {
    return build(suite, suite.threatModel(), numClasses);
  }

  /**
   * Builds the suite's attacks under {@code threat}; a setting the model cannot support is a {@link
   * SpecException} (a loss head needing more classes carries code ARAT-D005).
   */
  static List<Attack> build(EvaluationSuite suite, ThreatModel threat, int numClasses) {
    return build(
        suite,
        threat,
        numClasses,
        path -> {
          throw new SpecException(
              "transfer attacks need a surrogate model; none can be opened here");
        });
  }

  /**
   * Builds the suite's attacks at {@code threat}; {@code surrogates} opens the surrogate model of a
   * {@code transfer} entry from its path.
   */
  static List<Attack> build(
      EvaluationSuite suite,
      ThreatModel threat,
      int numClasses,
      java.util.function.Function<String, GradientClassifier> surrogates) {
    List<Attack> attacks = new ArrayList<>();
    for (int i = 0; i < suite.attacks().size(); i++) {
      AttackSpec spec = suite.attacks().get(i);
      if (numClasses < spec.minClasses()) {
        throw new SpecException(
            String.format(
                Locale.ROOT,
                "attacks[%d].loss: %s needs at least %d classes, the model has %d (%s, docs/diagnostics.md)",
                i,
                spec.lossHeads(),
                spec.minClasses(),
                numClasses,
                Diagnostic.Code.CLASS_COUNT.code()));
      }
      try {
        attacks.add(Attacks.fromSpec(spec, threat, Attacks.seedFor(suite.seed(), i), surrogates));
      } catch (IllegalArgumentException e) {
        throw new SpecException("attacks[" + i + "]: " + e.getMessage(), e);
      }
    }
    return attacks;
  }
}
