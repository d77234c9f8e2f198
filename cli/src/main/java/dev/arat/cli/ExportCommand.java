package dev.arat.cli;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.attack.ImageBatch;
import dev.arat.data.Datasets;
import dev.arat.data.ImageDataset;
import dev.arat.data.Permutations;
import dev.arat.data.Split;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.exporter.BnBranch;
import dev.arat.exporter.OnnxExporter;
import dev.arat.exporter.ParityCheck;
import dev.arat.onnx.OnnxModels;
import dev.arat.specs.Checkpoint;
import dev.arat.trainer.TrainedNetwork;
import dev.arat.trainer.nn.SplitBnNetwork;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code arat export}: checkpoint to ONNX, with a parity check against the checkpoint. */
@Command(
    name = "export",
    mixinStandardHelpOptions = true,
    usageHelpAutoWidth = true,
    description = {
      "Export a checkpoint as ONNX and prove parity with it.",
      "",
      "Writes the adversarial-BN network (the deployed model) with BN folded and the input "
          + "normalisation inside; then the ONNX logits must match the checkpoint's on held-out "
          + "test images, or the command exits 3."
    })
final class ExportCommand implements Callable<Integer> {
  @Option(
      names = "--checkpoint",
      required = true,
      paramLabel = "DIR",
      description = "A checkpoint folder, or a run folder (its newest checkpoint is used).")
  Path checkpoint;

  @Option(
      names = "--out",
      paramLabel = "FILE",
      description = "The ONNX file to write (default: model.onnx in the run folder).")
  Path out;

  @Option(
      names = "--branch",
      defaultValue = "adv",
      paramLabel = "adv|clean",
      description =
          "BN branch to export: adv (the deployed model, default) or clean (analysis only).")
  String branch;

  @Option(
      names = "--parity-samples",
      defaultValue = "512",
      description =
          "Held-out test images for the parity check (default: ${DEFAULT-VALUE}; 0 skips it).")
  int paritySamples;

  @Option(
      names = "--tolerance",
      defaultValue = "1e-3",
      description =
          "Largest acceptable logit difference, times max(1, largest |logit|) "
              + "(default: ${DEFAULT-VALUE}).")
  double tolerance;

  @Option(
      names = "--data",
      paramLabel = "DIR",
      description = "Dataset folder for the parity images.")
  Path data;

  @Option(
      names = "--precision",
      defaultValue = "fp32",
      paramLabel = "fp32|fp16|int8",
      description =
          "Also write a quantized variant next to the float32 file (arat quantize; "
              + "int8 calibrates on the checkpoint's training images; default: ${DEFAULT-VALUE}).")
  String precision;

  @Option(
      names = "--calibration",
      defaultValue = "max",
      paramLabel = "max|percentile|entropy",
      description = "INT8 calibration method (default: ${DEFAULT-VALUE}).")
  String calibration;

  @Option(
      names = "--calibration-samples",
      defaultValue = "512",
      paramLabel = "N",
      description = "Training images for INT8 calibration (default: ${DEFAULT-VALUE}).")
  int calibrationSamples;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Output output = new Output(spec);
    Path file = out != null ? out : defaultOut(checkpoint);
    String p = precision.toLowerCase(Locale.ROOT);
    if (!p.equals("fp32") && !p.equals("fp16") && !p.equals("int8")) {
      throw new AratException(
          ExitCodes.INPUT_ERROR,
          "--precision: expected fp32, fp16 or int8, was '" + precision + "'");
    }
    export(checkpoint, file, parseBranch(branch), paritySamples, tolerance, data, output.out());
    if (!p.equals("fp32")) {
      Checkpoint ck = Checkpoint.read(checkpointFolder(checkpoint));
      QuantizeCommand.quantize(
          file,
          QuantizeCommand.defaultOut(file, p, calibration),
          p,
          calibration,
          Double.parseDouble(QuantizeCommand.DEFAULT_PERCENTILE),
          calibrationSamples,
          ck.recipe().data().dataset(),
          dataDir(data, ck),
          paritySamples,
          output.out());
    }
    return ExitCodes.OK;
  }

  static Path defaultOut(Path checkpointArg) {
    Path run =
        Files.isDirectory(checkpointArg.resolve("checkpoints"))
            ? checkpointArg
            : checkpointArg.toAbsolutePath().getParent().getParent();
    return run.resolve("model.onnx");
  }

  static BnBranch parseBranch(String text) {
    return switch (text.toLowerCase(Locale.ROOT)) {
      case "adv" -> BnBranch.ADV;
      case "clean" -> BnBranch.CLEAN;
      default ->
          throw new IllegalArgumentException("--branch: expected adv or clean, was '" + text + "'");
    };
  }

  /**
   * Exports and checks parity; a parity failure deletes nothing but exits 3, naming the numbers.
   *
   * @return the parity result, or null when skipped
   */
  static ParityCheck.Result export(
      Path checkpointArg,
      Path file,
      BnBranch branch,
      int paritySamples,
      double tolerance,
      Path data,
      PrintWriter out)
      throws Exception {
    Path folder = checkpointFolder(checkpointArg);
    Checkpoint ck = Checkpoint.read(folder);
    String sha = dev.arat.specs.Sha256.ofFile(folder.resolve(Checkpoint.WEIGHTS));
    ModelProto model =
        new OnnxExporter(branch, true)
            .export(
                ck,
                Map.of(
                    "arat.checkpoint",
                    folder.getFileName().toString(),
                    "arat.checkpoint_sha256",
                    sha,
                    "arat.tool_version",
                    Versions.ARAT));
    OnnxModels.save(model, file);
    out.printf(
        "wrote %s (%s BN branch, epoch %d, checkpoint sha256 %s)%n",
        file, branch.key(), ck.state().epoch(), sha.substring(0, 12));
    if (paritySamples <= 0) {
      out.println("parity check skipped (--parity-samples 0)");
      return null;
    }
    ImageDataset test = Datasets.load(ck.recipe().data().dataset(), dataDir(data, ck), Split.TEST);
    ImageBatch images = parityImages(test, parityIndices(test, paritySamples));
    ParityCheck.Result r;
    try (TrainedNetwork reference = new TrainedNetwork(ck, trainerBranch(branch));
        OrtClassifier exported = OrtClassifier.open(file)) {
      r = ParityCheck.compare(reference, exported, images, tolerance, 128);
    }
    out.println(r.summary());
    if (!r.passed()) {
      throw new AratException(
          ExitCodes.UNTRUSTED,
          "parity failed: the ONNX model does not reproduce "
              + "the checkpoint ("
              + r.summary()
              + "); "
              + file
              + " must not be used");
    }
    return r;
  }

  /**
   * A seeded choice of {@code min(samples, test.size())} held-out test images, independent of the
   * evaluation suite's choice; the same for export and quantize parity.
   */
  static int[] parityIndices(ImageDataset test, int samples) {
    return Permutations.firstOf(test.size(), Math.min(samples, test.size()), 0x9a717L);
  }

  /** The images {@code idx} of {@code test} as one batch [n, C, H, W]. */
  static ImageBatch parityImages(ImageDataset test, int[] idx) {
    return new ImageBatch(
        test.gatherPixels(idx), idx.length, test.channels(), test.height(), test.width());
  }

  /** The checkpoint folder named by {@code --checkpoint}: itself, or a run folder's newest. */
  private static Path checkpointFolder(Path checkpointArg) {
    return Files.isDirectory(checkpointArg.resolve("checkpoints"))
        ? Checkpoint.latest(checkpointArg)
            .orElseThrow(
                () ->
                    new AratException(
                        ExitCodes.INPUT_ERROR,
                        checkpointArg
                            + ": no checkpoint in "
                            + checkpointArg.resolve("checkpoints")))
        : checkpointArg;
  }

  /** The dataset folder: {@code --data}, else the recipe's data path, else null (the default). */
  private static Path dataDir(Path data, Checkpoint ck) {
    return data != null
        ? data
        : ck.recipe().data().path() != null ? Path.of(ck.recipe().data().path()) : null;
  }

  private static SplitBnNetwork.Branch trainerBranch(BnBranch b) {
    return b == BnBranch.ADV ? SplitBnNetwork.Branch.ADV : SplitBnNetwork.Branch.CLEAN;
  }
}
