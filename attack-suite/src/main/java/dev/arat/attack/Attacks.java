package dev.arat.attack;

import dev.arat.specs.AttackSpec;
import dev.arat.specs.ThreatModel;
import java.util.function.Function;

/**
 * Builds attacks from suite entries ({@link AttackSpec}) with seeds derived from the suite seed.
 */
public final class Attacks {
  private Attacks() {}

  /**
   * The seed of the attack at position {@code index} of a suite seeded with {@code suiteSeed}:
   * {@code Seeds.mix(suiteSeed, index)}.
   */
  public static long seedFor(long suiteSeed, int index) {
    return Seeds.mix(suiteSeed, index);
  }

  /**
   * Builds one attack that needs no surrogate model (every type except {@code transfer}).
   *
   * @param spec the suite entry (already validated by its record)
   * @param threat the suite's budget
   * @param seed the attack's seed (see {@link #seedFor})
   * @return the attack; its {@link Attack#settings()} list every value actually used
   * @throws IllegalArgumentException for a {@code transfer} entry (use the overload with a loader)
   */
  public static Attack fromSpec(AttackSpec spec, ThreatModel threat, long seed) {
    return fromSpec(
        spec,
        threat,
        seed,
        path -> {
          throw new IllegalArgumentException(
              "transfer: no surrogate loader available to open '" + path + "'");
        });
  }

  /**
   * Builds one attack.
   *
   * @param spec the suite entry (already validated by its record)
   * @param threat the suite's budget
   * @param seed the attack's seed (see {@link #seedFor})
   * @param surrogates opens the surrogate model of a {@code transfer} entry from its path (the
   *     engine's business; the returned model's lifetime is the caller's)
   * @return the attack; its {@link Attack#settings()} list every value actually used
   */
  public static Attack fromSpec(
      AttackSpec spec,
      ThreatModel threat,
      long seed,
      Function<String, GradientClassifier> surrogates) {
    if (spec instanceof AttackSpec.Fgsm f) {
      return new Fgsm(threat, f.loss());
    }
    if (spec instanceof AttackSpec.Pgd p) {
      return new Pgd(
          threat,
          p.steps(),
          p.stepSizeFor(threat.epsilon()),
          p.restarts(),
          p.loss(),
          p.randomStart(),
          seed);
    }
    if (spec instanceof AttackSpec.Apgd a) {
      return new Apgd(threat, a.steps(), a.restarts(), a.loss(), a.rho(), a.eotIter(), seed);
    }
    if (spec instanceof AttackSpec.ApgdT a) {
      return new ApgdTargeted(
          threat, a.steps(), a.targets(), a.restarts(), a.rho(), a.eotIter(), seed);
    }
    if (spec instanceof AttackSpec.Square q) {
      return new Square(threat, q.queries(), q.pInit(), q.restarts(), q.rescaleSchedule(), seed);
    }
    if (spec instanceof AttackSpec.FabT f) {
      return new FabTargeted(
          threat, f.steps(), f.targets(), f.restarts(), f.alphaMax(), f.eta(), f.beta(), seed);
    }
    if (spec instanceof AttackSpec.Transfer t) {
      Attack inner = fromSpec(t.attack(), threat, seed, surrogates);
      return new Transfer(inner, surrogates.apply(t.surrogate()), t.surrogate());
    }
    throw new IllegalArgumentException("unsupported attack spec " + spec);
  }
}
