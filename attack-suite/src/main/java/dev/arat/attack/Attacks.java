package dev.arat.attack;

import dev.arat.specs.AttackSpec;
import dev.arat.specs.ThreatModel;

/** Builds attacks from suite entries ({@link AttackSpec}) with seeds derived from the suite seed. */
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
   * Builds one attack.
   *
   * @param spec the suite entry (already validated by its record)
   * @param threat the suite's budget
   * @param seed the attack's seed (see {@link #seedFor})
   * @return the attack; its {@link Attack#settings()} list every value actually used
   */
  public static Attack fromSpec(AttackSpec spec, ThreatModel threat, long seed) {
    if (spec instanceof AttackSpec.Fgsm f) {
      return new Fgsm(threat, f.loss());
    }
    if (spec instanceof AttackSpec.Pgd p) {
      return new Pgd(threat, p.steps(), p.stepSizeFor(threat.epsilon()), p.restarts(), p.loss(), p.randomStart(), seed);
    }
    throw new IllegalArgumentException("unsupported attack spec " + spec);
  }
}
