package dev.arat.specs;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/**
 * A per-sample loss on logits that an attack <em>maximises</em>.
 *
 * <p>Every head maps logits {@code z} of shape {@code (N,K)} (float32, logits not probabilities),
 * labels {@code y} of shape {@code (N)} and, for targeted heads, targets {@code t} of shape {@code
 * (N)} to one value per sample. Attacks ascend the head's value; the input gradient of a batch is
 * the gradient of the <em>sum</em> of the per-sample values, so samples stay independent for models
 * without cross-sample coupling. Formulas follow reference/ATTACKS.md §10.3.
 */
public enum LossHead {
  /** Cross-entropy {@code -log softmax(z)_y}: maximising it moves away from the true class. */
  CE("ce", false),
  /** Negative cross-entropy to the target, {@code log softmax(z)_t}: maximising it moves to t. */
  CE_TARGETED("ce-targeted", true),
  /**
   * Carlini-Wagner margin {@code max_{i!=y} z_i - z_y}; positive once the sample is misclassified.
   */
  MARGIN("margin", false),
  /**
   * Difference of logits ratio {@code -(z_y - max_{i!=y} z_i) / (z_pi1 - z_pi3 + 1e-12)}; needs K
   * >= 3.
   */
  DLR("dlr", false),
  /** Targeted DLR {@code -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4)/2 + 1e-12)}; needs K >= 4. */
  DLR_TARGETED("dlr-targeted", true),
  /**
   * Logit difference {@code z_t - z_y}: the function FAB-T linearises (one gradient call gives its
   * value and slope); positive once the target's logit exceeds the true class's.
   */
  LOGIT_DIFF("logit-diff", true);

  private final String id;
  private final boolean targeted;

  LossHead(String id, boolean targeted) {
    this.id = id;
    this.targeted = targeted;
  }

  /** The name used in YAML and on the command line, e.g. {@code ce-targeted}. */
  @JsonValue
  public String id() {
    return id;
  }

  /** Whether the head needs a target class per sample. */
  public boolean targeted() {
    return targeted;
  }

  /** Parses the YAML/CLI name (case-insensitive, {@code _} and {@code -} interchangeable). */
  @JsonCreator
  public static LossHead fromId(String text) {
    String norm = text.trim().toLowerCase(Locale.ROOT).replace('_', '-');
    for (LossHead h : values()) {
      if (h.id.equals(norm)) {
        return h;
      }
    }
    throw new IllegalArgumentException(
        "unknown loss '"
            + text
            + "', expected one of ce, ce-targeted, margin, dlr, dlr-targeted, logit-diff");
  }

  @Override
  public String toString() {
    return id;
  }
}
