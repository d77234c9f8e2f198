package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.arat.deploy.QuantizationMetadata;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.onnx.testsupport.LinearModel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole deployment chain on real variants: {@code arat quantize} (INT8 calibrated on training
 * images, FP16), {@code arat evaluate --variant} with a white-box attack plus {@code square} and a
 * {@code transfer} attack from the float parent, {@code arat package}, {@code arat verify
 * --recheck} (the INT8 model re-attacked through straight-through gradients must reproduce every
 * per-sample outcome), and a flipped byte in the INT8 file.
 */
class QuantizedPackageEndToEndTest {
  /**
   * A nearest-class-mean classifier of the synthetic training split behind a 1x1 convolution of
   * weight 1 and a ReLU (identity on [0,1] images, but a Conv the quantizer puts Q/DQ on): input
   * (N,1,28,28) -> Conv 1x1 -> Relu -> Flatten -> Gemm ({@link LinearModel#syntheticNearestMean()})
   * -> 10 logits.
   */
  static Path nearestMeanCnn(Path file) {
    LinearModel m = LinearModel.syntheticNearestMean();
    GraphBuilder g = new GraphBuilder("nearest-mean-cnn");
    String x = g.imageInput("input", 1, 28, 28);
    String conv =
        g.node(
            Op.CONV,
            List.of(x, g.floatInitializer("conv.weight", new float[] {1f}, 1, 1, 1, 1)),
            Map.of());
    String z = m.addTo(g, g.node(Op.RELU, conv));
    g.output(z, "logits", Tensors.FLOAT, "N", m.k());
    g.metadata("arat.dataset", "synthetic");
    OnnxModels.save(g.build(13), file);
    return file;
  }

  @Test
  void quantizeEvaluatePackageVerify(@TempDir Path dir) throws Exception {
    Path model = nearestMeanCnn(dir.resolve("model.onnx"));
    var q =
        CliRun.quiet(
            "quantize",
            model.toString(),
            "--precision",
            "int8",
            "--calibration",
            "max",
            "--calibration-samples",
            "64",
            "--parity-samples",
            "50");
    assertEquals(ExitCodes.OK, q.code(), q.out() + q.err());
    Path int8 = dir.resolve("model.int8-max.onnx");
    Map<String, String> meta = QuantizationMetadata.of(OnnxModels.load(int8));
    assertEquals("int8", meta.get(QuantizationMetadata.PRECISION));
    assertTrue(
        meta.get(QuantizationMetadata.CALIBRATION_SOURCE).contains("train"), meta.toString());
    var h =
        CliRun.quiet("quantize", model.toString(), "--precision", "fp16", "--parity-samples", "0");
    assertEquals(ExitCodes.OK, h.code(), h.out() + h.err());
    Path fp16 = dir.resolve("model.fp16.onnx");

    Path suite = dir.resolve("suite.yaml");
    Files.writeString(
        suite,
        String.join(
            "\n",
            "name: e2e-quantized",
            "data: {dataset: synthetic}",
            "samples: 40",
            "seed: 3",
            "batch_size: 20",
            "threat_model: {norm: Linf, epsilon: 0.15}",
            "attacks:",
            "  - {type: pgd, steps: 5}",
            "  - {type: square, queries: 30}",
            "  - {type: transfer, surrogate: '" + model + "', attack: {type: fgsm}}",
            "gates: {max_robust_drop_vs_parent: 0.5, min_top1_agreement: 0.9}",
            ""));
    Path eval = dir.resolve("eval");
    var missing =
        CliRun.quiet(
            "evaluate",
            "--model",
            model.toString(),
            "--variant",
            dir.resolve("model.int8.onnx").toString(),
            "--suite",
            suite.toString(),
            "--out",
            eval.toString());
    assertEquals(ExitCodes.INPUT_ERROR, missing.code(), missing.out() + missing.err());
    assertFalse(
        Files.exists(eval.resolve("ledger.jsonl")),
        "a missing variant must stop the run before the parent's");
    var ev =
        CliRun.quiet(
            "evaluate",
            "--model",
            model.toString(),
            "--variant",
            int8.toString(),
            "--variant",
            fp16.toString(),
            "--suite",
            suite.toString(),
            "--out",
            eval.toString(),
            "--threads",
            "1");
    assertEquals(ExitCodes.OK, ev.code(), ev.out() + ev.err());
    ObjectMapper json = new ObjectMapper();
    JsonNode int8Report =
        json.readTree(eval.resolve("variants/model.int8-max/report.json").toFile());
    String diagnostics = int8Report.path("diagnostics").toString();
    assertTrue(
        diagnostics.contains("ARAT-D020") && !diagnostics.contains("ARAT-D021"), diagnostics);
    assertEquals("ORT_ENABLE_ALL", int8Report.path("tool").path("graph_optimization").asText());
    double robust = int8Report.path("robust_accuracy").asDouble();
    double clean = int8Report.path("clean_accuracy").asDouble();
    assertTrue(
        clean > 0.9 && robust > 0 && robust < clean, "clean " + clean + ", robust " + robust);
    JsonNode variants = json.readTree(eval.resolve("variants.json").toFile());
    assertTrue(variants.toString().contains("\"made_from_parent\":true"), variants.toString());
    for (JsonNode v : variants.path("variants")) {
      JsonNode t = v.path("transfer");
      assertTrue(t.path("parent_adversarial").asInt() > 0, t.toString());
      assertEquals(t.path("parent_adversarial").asInt(), t.path("scored").asInt(), t.toString());
    }
    String junit = Files.readString(eval.resolve("junit.xml"));
    assertTrue(
        junit.contains("max_robust_drop_vs_parent[model.int8-max.onnx]")
            && junit.contains("min_top1_agreement[model.fp16.onnx]"),
        junit);

    Path pkg = dir.resolve("pkg");
    var p =
        CliRun.quiet(
            "package",
            "--model",
            model.toString(),
            "--variant",
            int8.toString(),
            "--variant",
            fp16.toString(),
            "--eval",
            eval.toString(),
            "--out",
            pkg.toString());
    assertEquals(ExitCodes.OK, p.code(), p.out() + p.err());
    assertTrue(p.out().contains("verdict passed"), p.out());

    // the transfer surrogate named by the suite is gone: the recheck must use the packaged parent
    Files.move(model, dir.resolve("moved.onnx"));
    var v = CliRun.quiet("verify", pkg.toString(), "--recheck", "40", "--threads", "1");
    assertEquals(ExitCodes.OK, v.code(), v.out() + v.err());
    assertTrue(v.out().contains("VERIFIED") && v.out().contains("120 sample(s)"), v.out());

    byte[] bytes = Files.readAllBytes(pkg.resolve("model.int8-max.onnx"));
    bytes[bytes.length / 2] ^= 0x01;
    Files.write(pkg.resolve("model.int8-max.onnx"), bytes);
    var bad = CliRun.quiet("verify", pkg.toString());
    assertEquals(ExitCodes.UNTRUSTED, bad.code(), bad.out() + bad.err());
    assertTrue(
        bad.out().contains("MISMATCH model.int8-max.onnx: sha256: manifest says"), bad.out());
    assertFalse(bad.out().contains("MISMATCH model.onnx"), bad.out());
  }
}
