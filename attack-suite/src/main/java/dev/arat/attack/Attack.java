package dev.arat.attack;

import dev.arat.specs.ThreatModel;
import java.util.Map;

/**
 * An evasion attack under a {@link ThreatModel}. Each implementation documents its norm and the
 * paper it implements. Attacks are stateless between calls and deterministic for their seed: all
 * random draws for a sample come from {@link Seeds#forSample}{@code (seed, sampleId)}.
 */
public interface Attack {
  /** A short name for reports, e.g. {@code pgd-20-ce}. */
  String name();

  /** The budget the attack's candidates respect. */
  ThreatModel threat();

  /**
   * Every setting as actually used, in a stable order, for the report (values are strings, numbers
   * or booleans).
   */
  Map<String, Object> settings();

  /**
   * Attacks a batch; every candidate starts from the clean input.
   *
   * @param model the attacked model (white-box: logits and input gradients)
   * @param x clean images, float32 {@code (N,C,H,W)} in {@code [0,1]}
   * @param labels true classes {@code (N)}
   * @param sampleIds a stable id per sample {@code (N)} (e.g. dataset index) that seeds its draws
   * @return candidates within the budget, and per-sample success as judged by {@code model}
   */
  AttackResult run(GradientClassifier model, ImageBatch x, int[] labels, long[] sampleIds);
}
