package dev.arat.attack;

/**
 * What an attack returns for a batch.
 *
 * @param adversarial float32 {@code (N,C,H,W)} candidates in {@code [0,1]}, one per input sample,
 *     in the input order
 * @param success per sample: misclassified (by the attacked model) at the returned candidate
 * @param iteration per sample: the iteration at which the returned candidate was found when {@code
 *     success}, else -1 (each attack documents how it counts)
 */
public record AttackResult(ImageBatch adversarial, boolean[] success, int[] iteration) {
  /** Checks that the per-sample arrays match the batch. */
  public AttackResult {
    if (success.length != adversarial.n() || iteration.length != adversarial.n()) {
      throw new IllegalArgumentException(
          "result for "
              + adversarial.n()
              + " samples has "
              + success.length
              + " success flags and "
              + iteration.length
              + " iterations");
    }
  }

  /** Number of successes. */
  public int successes() {
    int s = 0;
    for (boolean b : success) {
      s += b ? 1 : 0;
    }
    return s;
  }
}
