package dev.arat.evaluator.run;

import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.report.Report;
import dev.arat.specs.Npy;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The adversarial examples of an evaluation, saved so that a user can look at them, replay them on
 * another runtime or model ({@code arat replay}), or train on them. Written into the output folder
 * when the suite's {@code save_adversarial} is on (the default), from the ledger, so they survive a
 * resume and an {@code arat merge} of shards:
 *
 * <ul>
 *   <li>{@value #IMAGES}: float32 {@code (M,C,H,W)} in {@code [0,1]}, the counted adversarial image
 *       of every sample broken at the threat model's epsilon, in evaluation order;
 *   <li>{@value #INDICES}: int64 {@code (M)}, their dataset indices (the report's {@code index});
 *   <li>{@value #LABELS}: int64 {@code (M)}, their true classes;
 *   <li>{@value #PREDICTIONS}: int64 {@code (M)}, the evaluated model's classes on the images.
 * </ul>
 *
 * <p>With no broken sample the files hold {@code M = 0} rows. Epsilon-sweep radii other than the
 * threat model's are not saved.
 */
public final class Evidence {
  /** The images file. */
  public static final String IMAGES = "adversarial.npy";

  /** The dataset indices file. */
  public static final String INDICES = "adversarial_indices.npy";

  /** The true labels file. */
  public static final String LABELS = "adversarial_labels.npy";

  /** The model's predictions file. */
  public static final String PREDICTIONS = "adversarial_predictions.npy";

  private Evidence() {}

  /**
   * What {@link #write} wrote.
   *
   * @param count examples written
   * @param missing dataset indices of broken samples whose image the ledger lacks (a ledger written
   *     by an arat without evidence, resumed): they are not in the files
   */
  record Written(int count, List<Long> missing) {}

  /**
   * The companion file of {@code images} ({@code adversarial.npy}) for {@code companion}, e.g.
   * {@value #LABELS}.
   */
  public static Path companion(Path images, String companion) {
    String name = images.getFileName().toString();
    String stem = name.endsWith(".npy") ? name.substring(0, name.length() - 4) : name;
    String suffix = companion.substring("adversarial".length()); // e.g. _labels.npy
    Path parent = images.toAbsolutePath().getParent();
    return parent.resolve(stem + suffix);
  }

  /**
   * Writes the four files into {@code dir} from the broken samples of {@code report} and the images
   * saved in {@code ledger}; removes stale ones when {@code save} is false.
   *
   * @param dir the output folder
   * @param report the evaluation's report (its {@code per_sample} entries, in evaluation order)
   * @param ledger the ledger holding the images
   * @param save the suite's {@code save_adversarial}
   * @return what was written, or null when nothing was (save off)
   * @throws EvaluationException (INPUT) if a file cannot be written
   */
  static Written write(Path dir, Report report, Ledger ledger, boolean save) {
    try {
      if (!save) {
        for (String f : List.of(IMAGES, INDICES, LABELS, PREDICTIONS)) {
          Files.deleteIfExists(dir.resolve(f));
        }
        return null;
      }
      List<Report.SampleEntry> broken = new ArrayList<>();
      List<Ledger.Adversarial> images = new ArrayList<>();
      List<Integer> shape = null;
      List<Long> missing = new ArrayList<>();
      for (Report.SampleEntry e : report.perSample()) {
        if (e.robust() || e.attackIndex() < 0) {
          continue;
        }
        Ledger.Adversarial a = ledger.adversarial(e.index());
        if (a == null) {
          missing.add(e.index());
          continue;
        }
        broken.add(e);
        images.add(a);
        shape = a.shape();
      }
      int m = broken.size();
      if (shape == null) {
        List<Long> in = report.model().inputShape();
        shape = List.of(in.get(1).intValue(), in.get(2).intValue(), in.get(3).intValue());
      }
      int per = shape.get(0) * shape.get(1) * shape.get(2);
      float[] x = new float[Math.multiplyExact(m, per)];
      long[] idx = new long[m];
      long[] y = new long[m];
      long[] pred = new long[m];
      for (int i = 0; i < m; i++) {
        System.arraycopy(images.get(i).image(), 0, x, i * per, per);
        idx[i] = broken.get(i).index();
        y[i] = broken.get(i).label();
        pred[i] = broken.get(i).prediction();
      }
      Files.createDirectories(dir);
      Npy.writeFloat32(dir.resolve(IMAGES), x, m, shape.get(0), shape.get(1), shape.get(2));
      Npy.writeInt64(dir.resolve(INDICES), idx, m);
      Npy.writeInt64(dir.resolve(LABELS), y, m);
      Npy.writeInt64(dir.resolve(PREDICTIONS), pred, m);
      return new Written(m, missing);
    } catch (IOException | Npy.NpyException e) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          "cannot write the adversarial examples into " + dir + ": " + e.getMessage(),
          null,
          e);
    }
  }
}
