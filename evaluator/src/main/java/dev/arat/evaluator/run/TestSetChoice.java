package dev.arat.evaluator.run;

import dev.arat.data.ImageDataset;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.SpecException;
import dev.arat.specs.ThreatModel;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The test set an evaluation reads: the suite with its dataset resolved (its own, else the one the
 * model's metadata names) and the dataset folder to read it from, and the checks of the suite's
 * radii against that test set.
 *
 * @param suite the suite with a concrete dataset
 * @param dataDir the dataset folder, or null for the suite's own data
 */
record TestSetChoice(EvaluationSuite suite, Path dataDir) {
  /**
   * Which test set {@link SuiteRunner#run(Path, EvaluationSuite, Path, Path)} reads for {@code
   * modelFile}: {@code --data} as the user's image folder when nothing names a dataset, as the path
   * of a {@code format} test set, else as the dataset folder; the dataset named by the model's
   * metadata when the suite names none. Load it with {@code TestSets.load(suite.data(), dataDir)}.
   */
  static TestSetChoice of(Path modelFile, EvaluationSuite suite, Path dataDirOverride) {
    if (dataDirOverride != null
        && suite.data().format() == null
        && suite.data().dataset() == null
        && metadataDataset(modelFile)
            == null) { // nothing names a dataset: --data is the user's image folder
      suite =
          suite.withData(
              new EvaluationSuite.Data(
                  null, dataDirOverride.toString(), "folder", null, null, null, null, null, null));
      dataDirOverride = null;
    }
    if (dataDirOverride != null && suite.data().format() != null) {
      suite = suite.withDataPath(dataDirOverride.toString());
      dataDirOverride = null;
    }
    Path dataDir =
        suite.data().format() != null
            ? null
            : dataDirOverride != null
                ? dataDirOverride
                : suite.data().path() != null ? Path.of(suite.data().path()) : null;
    return new TestSetChoice(withResolvedDataset(suite, modelFile), dataDir);
  }

  /**
   * The suite with a concrete dataset: its own, else the one the model's metadata names ({@code
   * arat.dataset}, written by arat's exporter).
   *
   * @throws SpecException when neither names a dataset
   */
  static EvaluationSuite withResolvedDataset(EvaluationSuite suite, Path modelFile) {
    if (suite.data().dataset() != null || suite.data().format() != null) {
      return suite;
    }
    String named = metadataDataset(modelFile);
    if (named == null) {
      throw new SpecException(
          "the suite names no dataset (data.dataset) and "
              + modelFile
              + " has no 'arat.dataset' metadata; set data.dataset in the suite or pass --dataset NAME");
    }
    return suite.withDataset(named);
  }

  /** The dataset named in the model's {@code arat.dataset} metadata, or null. */
  private static String metadataDataset(Path modelFile) {
    String named = null;
    for (var e : dev.arat.onnx.OnnxModels.load(modelFile).getMetadataPropsList()) {
      if (e.getKey().equals("arat.dataset")) {
        named = e.getValue();
      }
    }
    return named == null || named.isBlank() ? null : named;
  }

  /**
   * Refuses radii larger than the distance between an all-0 and an all-1 image of the test set's
   * size (1 for Linf, sqrt(C*H*W) for L2): such a budget allows every image and would only stall.
   *
   * @throws SpecException naming the field and the largest meaningful value
   */
  static void requireMeaningfulEpsilons(EvaluationSuite suite, ImageDataset test) {
    ThreatModel t = suite.threatModel();
    double max = ThreatModel.maxEpsilon(t.norm(), test.channels(), test.height(), test.width());
    List<Double> eps = suite.epsilons();
    for (int i = 0; i < eps.size(); i++) {
      if (eps.get(i) > max) {
        String field = i == 0 ? "threat_model.epsilon" : "epsilon_sweep";
        throw new SpecException(
            String.format(
                Locale.ROOT,
                "%s: %s is larger than any %s perturbation of a %dx%dx%d image in [0,1] can be (at most %s)",
                field,
                eps.get(i),
                t.norm().id(),
                test.channels(),
                test.height(),
                test.width(),
                (float) max));
      }
    }
  }
}
