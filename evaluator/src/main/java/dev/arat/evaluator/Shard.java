package dev.arat.evaluator;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One shard of an evaluation: shard {@code index} of {@code count} (1-based) runs the samples whose
 * position in the suite's chosen sample list is {@code ≡ index-1 (mod count)} (strided, so every
 * shard sees a similar mix of classes and difficulty). Each sample's random draws depend only on
 * the suite seed and the sample's dataset index, so the shards' ledgers merge into exactly the
 * result of one run ({@link dev.arat.evaluator.run.Merge}).
 *
 * @param index 1-based shard number, {@code 1 <= index <= count}
 * @param count number of shards, {@code >= 1}
 */
public record Shard(int index, int count) {
  /** The whole evaluation as one shard. */
  public static final Shard ALL = new Shard(1, 1);

  private static final Pattern FORM = Pattern.compile("\\s*(\\d+)\\s*/\\s*(\\d+)\\s*");

  /** Validates. */
  public Shard {
    if (count < 1 || index < 1 || index > count) {
      throw new IllegalArgumentException(
          "shard: need 1 <= k <= n in k/n, was " + index + "/" + count);
    }
  }

  /** Parses {@code k/n}, e.g. {@code 2/4}; a message says what to change otherwise. */
  public static Shard parse(String text) {
    Matcher m = FORM.matcher(text == null ? "" : text);
    if (!m.matches()) {
      throw new IllegalArgumentException(
          "--shard: expected k/n with 1 <= k <= n (e.g. 1/4), was '" + text + "'");
    }
    try {
      return new Shard(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--shard: numbers too large in '" + text + "'", e);
    }
  }

  /** Whether position {@code p} (0-based, in the chosen sample list) belongs to this shard. */
  public boolean contains(int p) {
    return p % count == index - 1;
  }

  /** Whether this is the whole evaluation. */
  public boolean whole() {
    return count == 1;
  }

  /** The positions {@code 0..n-1} that belong to this shard, ascending. */
  public int[] positions(int n) {
    int m = n <= index - 1 ? 0 : (n - (index - 1) + count - 1) / count;
    int[] out = new int[m];
    for (int i = 0; i < m; i++) {
      out[i] = index - 1 + i * count;
    }
    return out;
  }

  @Override
  public String toString() {
    return index + "/" + count;
  }
}
