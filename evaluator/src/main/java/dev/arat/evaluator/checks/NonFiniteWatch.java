package dev.arat.evaluator.checks;

import dev.arat.attack.Classifier;
import dev.arat.attack.GradientClassifier;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.specs.LossHead;
import java.util.Locale;

/**
 * Counts the images for which a model returned a NaN or infinite logit (ARAT-D016). Argmax over NaN
 * logits picks a class by accident (the first), so one such image can turn into a "correct"
 * prediction or a "successful" attack: a measurement containing one cannot be trusted.
 *
 * <p>{@link #watch(GradientClassifier)} and {@link #watch(Classifier)} wrap the models the cascade
 * uses; every logits row they return (forward calls and the logits of gradient calls, on clean
 * images and on attack candidates) is checked. Not thread-safe, like the classifiers.
 */
public final class NonFiniteWatch {
  private long images;
  private long checked;
  private Runnable onFirst;

  /**
   * Runs {@code r} when the first image with a non-finite logit is seen (e.g. to record it); null:
   * nothing.
   */
  public void onFirst(Runnable r) {
    this.onFirst = r;
  }

  /** {@code attacked}, with every logits row it returns checked. */
  public GradientClassifier watch(GradientClassifier attacked) {
    return new GradientClassifier() {
      @Override
      public int numClasses() {
        return attacked.numClasses();
      }

      @Override
      public float[] logits(ImageBatch x) {
        return check(attacked.logits(x), attacked.numClasses());
      }

      @Override
      public LossGradient lossGradient(ImageBatch x, int[] labels, int[] targets, LossHead head) {
        LossGradient g = attacked.lossGradient(x, labels, targets, head);
        check(g.logits(), attacked.numClasses());
        return g;
      }
    };
  }

  /** {@code deployed}, with every logits row it returns checked. */
  public Classifier watch(Classifier deployed) {
    return new Classifier() {
      @Override
      public int numClasses() {
        return deployed.numClasses();
      }

      @Override
      public float[] logits(ImageBatch x) {
        return check(deployed.logits(x), deployed.numClasses());
      }
    };
  }

  /** Images with a non-finite logit so far. */
  public long images() {
    return images;
  }

  /**
   * ARAT-D016 for what was seen so far ({@code where}: e.g. "during the cascade"), or null when
   * every logit was finite.
   */
  public Diagnostic diagnostic(String where) {
    if (images == 0) {
      return null;
    }
    return Diagnostic.Code.NON_FINITE_LOGITS.of(
        String.format(
            Locale.ROOT,
            "the model returned NaN or infinite logits for %d of %d images %s; their predictions (argmax) are"
                + " arbitrary, so accuracies and attack successes are not a measurement",
            images,
            checked,
            where));
  }

  /** Counts the rows of {@code z} ({@code (N,K)}) holding a non-finite value; returns {@code z}. */
  private float[] check(float[] z, int k) {
    for (int i = 0; i + k <= z.length; i += k) {
      checked++;
      for (int j = i; j < i + k; j++) {
        if (!Float.isFinite(z[j])) {
          if (images++ == 0 && onFirst != null) {
            onFirst.run();
          }
          break;
        }
      }
    }
    return z;
  }

  /**
   * ARAT-D016 for {@code x}'s logits on {@code deployed}, or null when all are finite (the clean
   * check run on the probe samples).
   */
  static Diagnostic clean(Classifier deployed, ImageBatch x) {
    NonFiniteWatch w = new NonFiniteWatch();
    w.watch(deployed).logits(x);
    return w.diagnostic("of the clean probe samples (the randomness check is skipped)");
  }
}
