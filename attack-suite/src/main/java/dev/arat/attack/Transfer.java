package dev.arat.attack;

import dev.arat.specs.ThreatModel;
import java.util.Map;

/**
 * A transfer attack (Papernot, McDaniel and Goodfellow, "Transferability in Machine Learning: from
 * Phenomena to Black-Box Attacks using Adversarial Samples", 2016): candidates are crafted by any
 * inner {@link Attack} on a <em>surrogate</em> model, then scored on the attacked model. Norm: the
 * inner attack's (this attack declares the inner attack's threat model; the inner attack projects).
 *
 * <p>The attacked model is only queried for logits (one forward pass per batch), so this is a
 * black-box attack with respect to it; success flags are its verdicts at the surrogate's candidates
 * (the cascade then re-scores them on the deployed model). The surrogate must take images of the
 * same shape and have the same classes. Randomness is the inner attack's, seeded per sample, so
 * results do not depend on batching. Iterations are the inner attack's.
 */
public final class Transfer extends AbstractAttack {
  private final Attack inner;
  private final GradientClassifier surrogate;
  private final String surrogateName;

  /**
   * Creates the attack.
   *
   * @param inner the attack run on the surrogate (its threat model is this attack's)
   * @param surrogate the surrogate model (white-box access)
   * @param surrogateName how reports name the surrogate, e.g. its file path
   */
  public Transfer(Attack inner, GradientClassifier surrogate, String surrogateName) {
    super(requireInner(inner).threat(), 0L);
    if (surrogate == null) {
      throw new IllegalArgumentException("transfer: surrogate model required");
    }
    this.inner = inner;
    this.surrogate = surrogate;
    this.surrogateName = surrogateName == null ? "surrogate" : surrogateName;
  }

  private static Attack requireInner(Attack inner) {
    if (inner == null) {
      throw new IllegalArgumentException("transfer: inner attack required");
    }
    return inner;
  }

  @Override
  public ThreatModel threat() {
    return inner.threat();
  }

  @Override
  public String name() {
    return "transfer-" + inner.name();
  }

  @Override
  public Map<String, Object> settings() {
    Map<String, Object> s = baseSettings("transfer", "Papernot et al. 2016 (transferability)");
    s.put("surrogate", surrogateName);
    s.put("inner", inner.name());
    for (Map.Entry<String, Object> e : inner.settings().entrySet()) {
      s.put("inner." + e.getKey(), e.getValue());
    }
    return s;
  }

  @Override
  protected void checkModel(GradientClassifier model) {
    if (surrogate.numClasses() != model.numClasses()) {
      throw new IllegalArgumentException(
          "transfer: surrogate has "
              + surrogate.numClasses()
              + " classes, the attacked model has "
              + model.numClasses());
    }
  }

  @Override
  protected void attack(
      GradientClassifier model, ImageBatch x, int[] labels, long[] sampleIds, Candidates c) {
    int n = x.n();
    AttackResult crafted = inner.run(surrogate, x, labels, sampleIds);
    float[] adv = crafted.adversarial().data();
    System.arraycopy(adv, 0, c.out, 0, adv.length);
    boolean[] success = c.success;
    int[] iteration = c.iteration;
    float[] logits = model.logits(crafted.adversarial());
    int k = model.numClasses();
    for (int i = 0; i < n; i++) {
      success[i] = argmax(logits, k, i) != labels[i];
      iteration[i] = success[i] ? Math.max(crafted.iteration()[i], 0) : -1;
    }
  }
}
