package dev.arat.evaluator.run;

import dev.arat.attack.Classifier;
import dev.arat.attack.ImageBatch;
import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.Wilson;
import dev.arat.specs.Npy;
import dev.arat.specs.Sha256;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Re-scores saved adversarial examples ({@link Evidence}: {@code adversarial.npy} with its labels,
 * and optionally its indices and the original model's predictions) on a model: the transfer check
 * of {@code arat replay}. The accuracy on the examples is the fraction the model classifies as
 * their true label; on the model that was evaluated it is 0 (every example broke it), on another
 * model it is that model's accuracy under transfer of these examples.
 */
public final class Replay {
  private Replay() {}

  /**
   * The adversarial examples as read from disk.
   *
   * @param images float32 {@code (N,C,H,W)} in {@code [0,1]}
   * @param labels true classes {@code (N)}
   * @param indices dataset indices {@code (N)}, or null when the file is absent
   * @param predictions the original model's classes {@code (N)}, or null when the file is absent
   * @param sha256 SHA-256 of the images file
   */
  public record Examples(
      ImageBatch images, int[] labels, long[] indices, int[] predictions, String sha256) {}

  /**
   * One example re-scored.
   *
   * @param index dataset index (or the row when unknown)
   * @param label true class
   * @param originalPrediction the original model's class, or null when unknown
   * @param prediction the replay model's class
   * @param margin true logit minus best other logit on the replay model
   */
  public record SampleResult(
      long index, int label, Integer originalPrediction, int prediction, double margin) {}

  /**
   * The replay's result (written as JSON by {@code arat replay --out}).
   *
   * @param model the model file as given
   * @param modelSha256 its SHA-256
   * @param adversarial the images file as given
   * @param adversarialSha256 its SHA-256
   * @param samples number of examples
   * @param correct examples the model classifies as their true label
   * @param accuracy {@code correct / samples} (0 when there is no example)
   * @param accuracyCi95 its 95% Wilson interval
   * @param samePrediction examples on which the model predicts what the original model predicted
   *     (null when the predictions file is absent)
   * @param perSample one entry per example, in file order
   */
  public record Result(
      String model,
      String modelSha256,
      String adversarial,
      String adversarialSha256,
      int samples,
      int correct,
      double accuracy,
      Report.Interval accuracyCi95,
      Integer samePrediction,
      List<SampleResult> perSample) {}

  /**
   * Reads {@code adversarial.npy} and its companions ({@link Evidence#companion}).
   *
   * @param images the images file
   * @throws EvaluationException (INPUT) if a file is missing or malformed (naming it)
   */
  public static Examples read(Path images) {
    Npy.NpyArray x = npy(images);
    long[] s = x.shape();
    if (x.dtype() != Npy.DType.FLOAT32 || s.length != 4) {
      throw input(
          images
              + " must be a float32 array of shape (N,C,H,W), is "
              + x.dtype().name().toLowerCase(Locale.ROOT)
              + " "
              + Arrays.toString(s));
    }
    int n = Math.toIntExact(s[0]);
    for (int i = 0; i < x.floats().length; i++) {
      float v = x.floats()[i];
      if (!(v >= 0 && v <= 1)) {
        throw input(
            images
                + ": image "
                + (i / (s[1] * s[2] * s[3]))
                + " holds "
                + v
                + "; adversarial images must lie in [0,1]");
      }
    }
    Path labelsFile = Evidence.companion(images, Evidence.LABELS);
    if (!Files.isRegularFile(labelsFile)) {
      throw input(
          "no labels next to "
              + images
              + ": expected "
              + labelsFile.getFileName()
              + " (written by 'arat evaluate' with the images)");
    }
    int[] labels = classes(labelsFile, n);
    Path idxFile = Evidence.companion(images, Evidence.INDICES);
    long[] idx = null;
    if (Files.isRegularFile(idxFile)) {
      idx = new long[n];
      int[] v = classes(idxFile, n);
      for (int i = 0; i < n; i++) {
        idx[i] = v[i];
      }
    }
    Path predFile = Evidence.companion(images, Evidence.PREDICTIONS);
    int[] pred = Files.isRegularFile(predFile) ? classes(predFile, n) : null;
    ImageBatch batch = new ImageBatch(x.floats(), n, (int) s[1], (int) s[2], (int) s[3]);
    String sha;
    try {
      sha = Sha256.ofFile(images);
    } catch (java.io.IOException e) {
      throw input(images + ": cannot read: " + e.getMessage());
    }
    return new Examples(batch, labels, idx, pred, sha);
  }

  /**
   * Scores the examples on {@code model} in batches of {@code batchSize}.
   *
   * @param model the classifier (its input geometry must match the images)
   * @param modelPath how to name the model in the result
   * @param modelSha256 the model file's SHA-256, or null
   * @param adversarial how to name the images file in the result
   * @param ex the examples
   * @param batchSize images per model call, {@code > 0}
   * @throws EvaluationException (INPUT) if a label is not a class of the model
   */
  public static Result score(
      Classifier model,
      String modelPath,
      String modelSha256,
      String adversarial,
      Examples ex,
      int batchSize) {
    int n = ex.images().n();
    int k = model.numClasses();
    for (int i = 0; i < n; i++) {
      if (ex.labels()[i] >= k) {
        throw input(
            "label "
                + ex.labels()[i]
                + " of example "
                + i
                + " is not a class of the model ("
                + k
                + " classes)");
      }
    }
    List<SampleResult> per = new ArrayList<>(n);
    int correct = 0;
    int same = 0;
    for (int start = 0; start < n; start += batchSize) {
      int m = Math.min(batchSize, n - start);
      int[] rows = new int[m];
      for (int j = 0; j < m; j++) {
        rows[j] = start + j;
      }
      float[] z = model.logits(ex.images().select(rows));
      if (z.length != m * k) {
        throw new EvaluationException(
            EvaluationException.Kind.INTERNAL,
            "the model returned " + z.length + " logits for " + m + " images of " + k + " classes");
      }
      for (int j = 0; j < m; j++) {
        int i = start + j;
        int y = ex.labels()[i];
        int p = argmax(z, j * k, k);
        double margin = (double) z[j * k + y] - bestOther(z, j * k, k, y);
        correct += p == y ? 1 : 0;
        Integer orig = ex.predictions() == null ? null : ex.predictions()[i];
        same += orig != null && orig == p ? 1 : 0;
        per.add(new SampleResult(ex.indices() == null ? i : ex.indices()[i], y, orig, p, margin));
      }
    }
    Wilson.Interval w = Wilson.interval95(correct, n);
    return new Result(
        modelPath,
        modelSha256,
        adversarial,
        ex.sha256(),
        n,
        correct,
        n == 0 ? 0 : (double) correct / n,
        new Report.Interval(w.low(), w.high()),
        ex.predictions() == null ? null : same,
        per);
  }

  private static int argmax(float[] z, int off, int k) {
    int best = 0;
    for (int c = 1; c < k; c++) {
      if (z[off + c] > z[off + best]) {
        best = c;
      }
    }
    return best;
  }

  /** The largest logit of a class other than {@code y} (minus infinity with one class). */
  private static double bestOther(float[] z, int off, int k, int y) {
    double best = Double.NEGATIVE_INFINITY;
    for (int c = 0; c < k; c++) {
      if (c != y) {
        best = Math.max(best, z[off + c]);
      }
    }
    return best;
  }

  private static Npy.NpyArray npy(Path file) {
    try {
      return Npy.read(file);
    } catch (Npy.NpyException e) {
      throw input(e.getMessage());
    }
  }

  private static int[] classes(Path file, int n) {
    Npy.NpyArray a = npy(file);
    if (!a.integral() || a.shape().length != 1) {
      throw input(
          file
              + " must be an int64, int32 or uint8 array of shape (N), is "
              + a.dtype().name().toLowerCase(Locale.ROOT)
              + " "
              + Arrays.toString(a.shape()));
    }
    if (a.shape()[0] != n) {
      throw input(
          file + " has " + a.shape()[0] + " entries but the images file has " + n + " images");
    }
    int[] out = new int[n];
    for (int i = 0; i < n; i++) {
      long v = a.longAt(i);
      if (v < 0 || v > Integer.MAX_VALUE) {
        throw input(file + ": entry " + i + " is " + v + ", not a class or sample index");
      }
      out[i] = (int) v;
    }
    return out;
  }

  private static EvaluationException input(String message) {
    return new EvaluationException(EvaluationException.Kind.INPUT, message);
  }
}
