package dev.arat.cli;

import dev.arat.specs.Builtins;
import dev.arat.specs.EvaluationSuite;
import java.nio.file.Path;

/**
 * The suite and test set that {@code arat evaluate} and {@code arat bench evaluate} run, from their
 * shared options: a suite file or built-in name, and the overrides {@code --samples}, {@code
 * --dataset}, {@code --data} (a dataset folder, an image folder, an {@code .npz} archive or an
 * {@code .npy} images file) and {@code --labels}.
 *
 * @param suite the suite with the overrides applied
 * @param dataDir the dataset folder to read the suite's named dataset from, or null
 */
record SuiteAndData(EvaluationSuite suite, Path dataDir) {
  /**
   * Applies the command-line overrides to the suite.
   *
   * @throws IllegalArgumentException for a bad override (a usage error, exit 2)
   */
  static SuiteAndData of(
      String suiteName, Integer samples, String dataset, Path data, Path labels) {
    EvaluationSuite s = Builtins.suite(suiteName);
    if (samples != null) {
      if (samples <= 0) {
        throw new IllegalArgumentException("--samples: must be > 0, was " + samples);
      }
      s = s.withSamples(samples);
    }
    if (dataset != null) {
      s = s.withDataset(dataset);
    }
    Path dataDir = data;
    String file =
        data == null ? "" : data.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
    EvaluationSuite.Data d = s.data();
    if (file.endsWith(".npy")) {
      if (labels == null) {
        throw new IllegalArgumentException(
            "--data " + data + " is an .npy images file: give its labels with --labels Y.npy");
      }
      s =
          s.withData(
              new EvaluationSuite.Data(
                  null,
                  null,
                  "npy",
                  data.toString(),
                  labels.toString(),
                  "npy".equals(d.format()) || "npz".equals(d.format()) ? d.layout() : null,
                  null,
                  null,
                  null));
      dataDir = null;
    } else if (labels != null) {
      throw new IllegalArgumentException("--labels is only used with --data X.npy");
    } else if (file.endsWith(".npz")) {
      boolean npz = "npz".equals(d.format());
      s =
          s.withData(
              new EvaluationSuite.Data(
                  null,
                  data.toString(),
                  "npz",
                  npz ? d.x() : null,
                  npz ? d.y() : null,
                  npz || "npy".equals(d.format()) ? d.layout() : null,
                  null,
                  null,
                  null));
      dataDir = null;
    }
    return new SuiteAndData(s, dataDir);
  }
}
