package dev.arat.cli;

import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.evaluator.ort.RuntimeOptions;
import dev.arat.evaluator.run.Evidence;
import dev.arat.evaluator.run.Replay;
import dev.arat.specs.AtomicFiles;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.Specs;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code arat replay}: re-scores the adversarial examples an evaluation saved on a model (the same
 * one, another one, or the same one on another execution provider) and prints its accuracy on them.
 */
@Command(
    name = "replay",
    mixinStandardHelpOptions = true,
    usageHelpAutoWidth = true,
    description = {
      "Re-score saved adversarial examples on an ONNX model (the transfer check).",
      "",
      "Reads adversarial.npy (float32 (N,C,H,W)) and adversarial_labels.npy next to it (and, when "
          + "present, adversarial_indices.npy and adversarial_predictions.npy), as 'arat evaluate' "
          + "writes them, runs the model on the images through ONNX Runtime and prints the accuracy on "
          + "them with its 95%% Wilson interval: 0%% on the model they were made on, the transfer accuracy "
          + "on another model. A model exported without its normalisation needs the evaluation's "
          + "--normalization-mean/--normalization-std (the suite's normalization key). Exit codes: 0 ok, 1 accuracy below --min-accuracy, 2 bad input."
    })
final class ReplayCommand implements Callable<Integer> {
  @Parameters(
      index = "0",
      paramLabel = "MODEL.onnx",
      description = "The ONNX classifier to score on.")
  Path model;

  @Option(
      names = "--adversarial",
      required = true,
      paramLabel = "FILE|DIR",
      description = "adversarial.npy, or the evaluation's output folder holding it.")
  Path adversarial;

  @Option(
      names = "--provider",
      defaultValue = "cpu",
      paramLabel = "cpu|cuda|tensorrt",
      description = "ONNX Runtime execution provider (default: ${DEFAULT-VALUE}).")
  String provider;

  @Option(
      names = "--threads",
      defaultValue = "0",
      description = "ONNX Runtime intra-op threads (0 = all cores).")
  int threads;

  @Option(
      names = "--batch-size",
      defaultValue = "250",
      description = "Images per model call (default: ${DEFAULT-VALUE}).")
  int batchSize;

  @Option(
      names = "--min-accuracy",
      paramLabel = "X",
      description = "Exit 1 when the accuracy on the examples is below X (a fraction in [0,1]).")
  Double minAccuracy;

  @Option(
      names = "--normalization-mean",
      split = ",",
      paramLabel = "M[,M...]",
      description =
          "With --normalization-std: feed the model (x - mean) / std, as the suite's normalization "
              + "key does, for a model exported without its normalisation (one value, or one per channel).")
  List<Double> normalizationMean;

  @Option(
      names = "--normalization-std",
      split = ",",
      paramLabel = "S[,S...]",
      description = "The std of --normalization-mean (same count, each > 0).")
  List<Double> normalizationStd;

  @Option(
      names = "--out",
      paramLabel = "FILE",
      description = "Also write the result (accuracy, interval, per-example predictions) as JSON.")
  Path out;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws IOException {
    if (batchSize <= 0) {
      throw new IllegalArgumentException("--batch-size: must be > 0, was " + batchSize);
    }
    if (minAccuracy != null && !(minAccuracy >= 0 && minAccuracy <= 1)) {
      throw new IllegalArgumentException("--min-accuracy: must be in [0,1], was " + minAccuracy);
    }
    if ((normalizationMean == null) != (normalizationStd == null)) {
      throw new IllegalArgumentException(
          "--normalization-mean and --normalization-std go together: give both");
    }
    EvaluationSuite.Normalization normalization =
        normalizationMean == null
            ? null
            : new EvaluationSuite.Normalization(normalizationMean, normalizationStd);
    Path images =
        Files.isDirectory(adversarial) ? adversarial.resolve(Evidence.IMAGES) : adversarial;
    if (!Files.isRegularFile(images)) {
      throw new EvaluationException(
          EvaluationException.Kind.INPUT,
          "no adversarial examples at "
              + images
              + " (written by 'arat evaluate' into its --out folder unless save_adversarial is false)");
    }
    Replay.Examples ex = Replay.read(images);
    RuntimeOptions rt =
        new RuntimeOptions(dev.arat.evaluator.ort.ExecutionProvider.parse(provider), 0, threads, 0);
    Replay.Result r;
    try (OrtClassifier c = OrtClassifier.open(model, rt, normalization)) {
      var x = ex.images();
      if (x.c() != c.channels() || x.h() != c.height() || x.w() != c.width()) {
        throw new EvaluationException(
            EvaluationException.Kind.INPUT,
            "model file '"
                + model
                + "' takes "
                + c.channels()
                + "x"
                + c.height()
                + "x"
                + c.width()
                + " images (CxHxW) but "
                + images
                + " holds "
                + Arrays.toString(new int[] {x.c(), x.h(), x.w()}));
      }
      r =
          Replay.score(
              c,
              model.toString(),
              dev.arat.onnx.OnnxModels.read(model).sha256(),
              images.toString(),
              ex,
              batchSize);
    }
    PrintWriter w = new Output(spec).out();
    w.printf(
        "%d adversarial example(s) from %s on %s (%s)%n", r.samples(), images, model, provider);
    w.printf(
        "  accuracy on them %7.2f%%   95%% CI [%.1f, %.1f]   (%d of %d classified as their true label)%n",
        100 * r.accuracy(),
        100 * r.accuracyCi95().low(),
        100 * r.accuracyCi95().high(),
        r.correct(),
        r.samples());
    if (r.samePrediction() != null) {
      w.printf(
          "  same prediction as the original model on %d of %d%n", r.samePrediction(), r.samples());
    }
    int shown = 0;
    for (Replay.SampleResult s : r.perSample()) {
      if (shown++ == 10) {
        w.printf("  ... (%d more; --out FILE writes them all)%n", r.samples() - 10);
        break;
      }
      w.printf(
          "  sample %d: label %d, original prediction %s, now %d%n",
          s.index(),
          s.label(),
          s.originalPrediction() == null ? "?" : s.originalPrediction().toString(),
          s.prediction());
    }
    if (out != null) {
      AtomicFiles.writeString(out, Specs.json().writeValueAsString(r));
      w.printf("wrote %s%n", out);
    }
    if (minAccuracy != null && r.accuracy() < minAccuracy) {
      w.printf(
          "FAILED: accuracy %.2f%% is below --min-accuracy %.2f%%%n",
          100 * r.accuracy(), 100 * minAccuracy);
      return ExitCodes.GATE_FAILED;
    }
    return ExitCodes.OK;
  }
}
