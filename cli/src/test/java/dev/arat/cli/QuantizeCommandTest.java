package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.deploy.QuantizationMetadata;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code arat quantize} on small generated models and the synthetic dataset. */
class QuantizeCommandTest {
  @TempDir Path dir;

  /** input (N,c,s,s) -> Conv 3x3 -> Relu -> MaxPool 4 -> Flatten -> Gemm -> 10 logits. */
  static ModelProto model(int c, int s, boolean customOp) {
    Random r = new Random(4);
    GraphBuilder g = new GraphBuilder("q");
    String x = g.imageInput("image", c, s, s);
    String conv =
        g.node(
            Op.CONV,
            List.of(
                x,
                g.floatInitializer(
                    "w", InspectGradientCommandTest.randn(r, 4 * c * 9, 0.5), 4, c, 3, 3)),
            Map.of("pads", new long[] {1, 1, 1, 1}));
    String act = g.node(Op.RELU, conv);
    String p =
        g.node(
            Op.MAX_POOL,
            List.of(act),
            Map.of("kernel_shape", new long[] {4, 4}, "strides", new long[] {4, 4}));
    int f = 4 * (s / 4) * (s / 4);
    String z =
        g.node(
            Op.GEMM,
            List.of(
                g.node(Op.FLATTEN, List.of(p), Map.of("axis", 1)),
                g.floatInitializer("fc", InspectGradientCommandTest.randn(r, 10 * f, 0.3), 10, f)),
            Map.of("transB", 1));
    g.output(z, "logits", Tensors.FLOAT, "N", 10);
    ModelProto m = g.build(13);
    if (customOp) {
      m =
          m.toBuilder()
              .setGraph(
                  m.getGraph().toBuilder()
                      .setNode(
                          1,
                          m.getGraph().getNode(1).toBuilder()
                              .setDomain("com.example")
                              .setOpType("FancyRelu")))
              .addOpsetImport(
                  ai.onnx.proto.OnnxMl.OperatorSetIdProto.newBuilder()
                      .setDomain("com.example")
                      .setVersion(1))
              .build();
    }
    return m;
  }

  private Path save(ModelProto m, String name) {
    Path f = dir.resolve(name);
    OnnxModels.save(m, f);
    return f;
  }

  @Test
  void int8AndFp16VariantsWithMetadataAndParityReport() throws Exception {
    Path parent = save(model(1, 28, false), "m.onnx");
    var r =
        CliRun.arat(
            "quantize",
            parent.toString(),
            "--dataset",
            "synthetic",
            "--calibration",
            "entropy",
            "--calibration-samples",
            "64",
            "--parity-samples",
            "64");
    assertEquals(0, r.code(), r.out() + r.err());
    Path v = dir.resolve("m.int8-entropy.onnx");
    assertTrue(Files.exists(v), r.out());
    Map<String, String> meta = QuantizationMetadata.of(OnnxModels.load(v));
    assertEquals("entropy", meta.get(QuantizationMetadata.CALIBRATION));
    assertEquals("64", meta.get(QuantizationMetadata.CALIBRATION_SAMPLES));
    assertEquals(
        dev.arat.specs.Sha256.ofFile(parent), meta.get(QuantizationMetadata.PARENT_SHA256));
    String json = Files.readString(dir.resolve("m.int8-entropy.parity.json"));
    assertTrue(json.contains("\"top1Agreement\"") && json.contains("ORT_ENABLE_ALL"), json);
    assertTrue(r.out().contains("parity on 64 held-out test images"), r.out());

    var i = CliRun.arat("inspect", v.toString());
    assertEquals(0, i.code(), i.out() + i.err());
    assertTrue(i.out().contains("STRAIGHT-THROUGH"), i.out());

    var h =
        CliRun.arat(
            "quantize",
            parent.toString(),
            "--precision",
            "fp16",
            "--dataset",
            "synthetic",
            "--parity-samples",
            "32");
    assertEquals(0, h.code(), h.out() + h.err());
    assertEquals(
        "fp16",
        QuantizationMetadata.of(OnnxModels.load(dir.resolve("m.fp16.onnx")))
            .get(QuantizationMetadata.PRECISION));
  }

  @Test
  void badInputExitsTwoWithOneLine() {
    Path rgb = save(model(3, 8, false), "rgb.onnx");
    var r =
        CliRun.arat(
            "quantize", rgb.toString(), "--dataset", "synthetic", "--calibration-samples", "8");
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("1x28x28") && r.err().contains("3x8x8"), r.err());
    assertTrue(r.err().strip().lines().count() <= 2, r.err());

    Path custom = save(model(1, 28, true), "custom.onnx");
    r = CliRun.arat("quantize", custom.toString(), "--dataset", "synthetic");
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("com.example.FancyRelu"), r.err());

    r = CliRun.arat("quantize", rgb.toString(), "--precision", "int4");
    assertEquals(2, r.code(), r.out() + r.err());
    r =
        CliRun.arat(
            "quantize", rgb.toString(), "--dataset", "synthetic", "--calibration", "minmax");
    assertEquals(2, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("max, percentile or entropy"), r.err());
  }
}
