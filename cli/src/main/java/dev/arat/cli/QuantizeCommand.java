package dev.arat.cli;

import ai.onnx.proto.OnnxMl.ModelProto;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.arat.data.Datasets;
import dev.arat.data.ImageDataset;
import dev.arat.data.Split;
import dev.arat.deploy.Calibration;
import dev.arat.deploy.CalibrationData;
import dev.arat.deploy.Fp16Converter;
import dev.arat.deploy.Int8Quantizer;
import dev.arat.deploy.Parity;
import dev.arat.deploy.QuantizationException;
import dev.arat.deploy.QuantizationMetadata;
import dev.arat.evaluator.ort.OrtSessions;
import dev.arat.onnx.OnnxModels;
import dev.arat.specs.Sha256;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code arat quantize}: a float32 ONNX classifier to its INT8 (QDQ) or FP16 variant. */
@Command(
    name = "quantize",
    mixinStandardHelpOptions = true,
    usageHelpAutoWidth = true,
    description = {
      "Quantize a float32 ONNX classifier (any, not only arat's) for deployment.",
      "",
      "int8: TensorRT explicit quantization (symmetric int8 QDQ, per-channel weights, per-tensor "
          + "activations calibrated on training images); fp16: float16 weights and activations "
          + "with float32 input/output. Writes the variant and a parity report against the "
          + "parent on held-out test images (docs/quantization.md).",
      "",
      "Next: arat evaluate --model MODEL.onnx --variant VARIANT.onnx with a suite that has a white-box "
          + "attack, square and a transfer attack from MODEL.onnx (else ARAT-D021, exit 3), then arat "
          + "package and arat verify (docs/deployment.md). Exit 0 written, 2 bad input (a model or "
          + "option it cannot quantize, named in one line)."
    })
final class QuantizeCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "MODEL.onnx", description = "The float32 parent model.")
  Path model;

  @Option(
      names = "--out",
      paramLabel = "FILE",
      description = "The variant to write (default: MODEL.int8-METHOD.onnx or MODEL.fp16.onnx).")
  Path out;

  @Option(
      names = "--precision",
      defaultValue = "int8",
      paramLabel = "int8|fp16",
      description = "Target precision (default: ${DEFAULT-VALUE}).")
  String precision;

  @Option(
      names = "--calibration",
      defaultValue = "max",
      paramLabel = "max|percentile|entropy",
      description = "How activation ranges are chosen (int8; default: ${DEFAULT-VALUE}).")
  String calibration;

  /** The default of {@code --percentile}; also what {@code arat export --precision int8} uses. */
  static final String DEFAULT_PERCENTILE = "99.99";

  @Option(
      names = "--percentile",
      defaultValue = DEFAULT_PERCENTILE,
      paramLabel = "P",
      description = "Percentile of |x| for --calibration percentile (default: ${DEFAULT-VALUE}).")
  double percentile;

  @Option(
      names = "--calibration-samples",
      defaultValue = "512",
      paramLabel = "N",
      description = "Training images used for calibration (default: ${DEFAULT-VALUE}).")
  int calibrationSamples;

  @Option(
      names = "--dataset",
      paramLabel = "NAME",
      description =
          "Dataset of the calibration (train split) and parity (test split) images "
              + "(default: the model's arat.dataset metadata).")
  String dataset;

  @Option(names = "--data", paramLabel = "DIR", description = "Folder of the dataset files.")
  Path data;

  @Option(
      names = "--parity-samples",
      defaultValue = "1000",
      paramLabel = "N",
      description =
          "Held-out test images for the parity report (default: ${DEFAULT-VALUE}; 0 skips it).")
  int paritySamples;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Path file = out != null ? out : defaultOut(model, precision, calibration);
    quantize(
        model,
        file,
        precision,
        calibration,
        percentile,
        calibrationSamples,
        dataset,
        data,
        paritySamples,
        new Output(spec).out());
    return ExitCodes.OK;
  }

  static Path defaultOut(Path parent, String precision, String method) {
    String name = parent.getFileName().toString().replaceFirst("\\.onnx$", "");
    String suffix =
        precision.equalsIgnoreCase("fp16")
            ? ".fp16.onnx"
            : ".int8-" + method.toLowerCase(Locale.ROOT) + ".onnx";
    return parent.toAbsolutePath().resolveSibling(name + suffix);
  }

  /**
   * Quantizes {@code parentFile} into {@code file} and writes the parity report next to it ({@code
   * FILE.parity.json}).
   *
   * @throws AratException exit 2 for a model that cannot be quantized, bad calibration data or
   *     options
   */
  static void quantize(
      Path parentFile,
      Path file,
      String precision,
      String method,
      double percentile,
      int calibrationSamples,
      String datasetName,
      Path dataDir,
      int paritySamples,
      PrintWriter out)
      throws Exception {
    ModelProto parent = OnnxModels.load(parentFile);
    String name =
        datasetName != null ? datasetName : QuantizationMetadata.of(parent).get("arat.dataset");
    QuantizationMetadata.Provenance prov =
        new QuantizationMetadata.Provenance(Sha256.ofFile(parentFile), Versions.ARAT);
    long t0 = System.nanoTime();
    ModelProto variant;
    Map<String, Object> report = new LinkedHashMap<>();
    try {
      switch (precision.toLowerCase(Locale.ROOT)) {
        case "int8" -> {
          Calibration cal = Calibration.parse(method, percentile);
          if (name == null) {
            throw new AratException(
                ExitCodes.INPUT_ERROR,
                parentFile
                    + " has no 'arat.dataset'"
                    + " metadata: pass --dataset NAME for the calibration (training) images");
          }
          ImageDataset train = Datasets.load(name, dataDir, Split.TRAIN);
          CalibrationData cd = CalibrationData.fromTraining(train, calibrationSamples);
          variant = Int8Quantizer.quantize(parent, cd, cal, prov);
          report.put("calibration", cal.id());
          report.put("calibration_samples", cd.n());
          report.put("calibration_sha256", cd.sha256());
        }
        case "fp16" -> variant = Fp16Converter.convert(parent, prov);
        default ->
            throw new AratException(
                ExitCodes.INPUT_ERROR,
                "--precision: expected int8 or fp16, was '" + precision + "'");
      }
    } catch (QuantizationException e) {
      throw new AratException(ExitCodes.INPUT_ERROR, parentFile + ": " + e.getMessage());
    }
    double seconds = (System.nanoTime() - t0) / 1e9;
    OnnxModels.save(variant, file);
    out.printf(
        Locale.ROOT,
        "wrote %s (%s%s, %.1f s, parent sha256 %s)%n",
        file,
        precision.toLowerCase(Locale.ROOT),
        report.containsKey("calibration")
            ? ", calibration "
                + report.get("calibration")
                + " on "
                + report.get("calibration_samples")
                + " training images"
            : "",
        seconds,
        prov.parentSha256().substring(0, 12));
    report.put("precision", precision.toLowerCase(Locale.ROOT));
    report.put("parent", parentFile.toString());
    report.put("parent_sha256", prov.parentSha256());
    report.put("variant", file.toString());
    report.put("variant_sha256", Sha256.ofFile(file));
    report.put("quantize_seconds", seconds);
    if (paritySamples > 0 && name != null) {
      ImageDataset test = Datasets.load(name, dataDir, Split.TEST);
      int[] idx = ExportCommand.parityIndices(test, paritySamples);
      Parity p =
          Parity.compare(
              parent, variant, ExportCommand.parityImages(test, idx), test.gatherLabels(idx));
      out.println(p.summary());
      report.put("parity", p);
      report.put("parity_images", name + " test");
      report.put("ort_graph_optimization", OrtSessions.GRAPH_OPTIMIZATION);
    } else if (paritySamples > 0) {
      out.println("parity report skipped: no dataset (pass --dataset NAME)");
    }
    Path json =
        file.resolveSibling(
            file.getFileName().toString().replaceFirst("\\.onnx$", "") + ".parity.json");
    new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(json.toFile(), report);
    out.println("wrote " + json);
  }
}
