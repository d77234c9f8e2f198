package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Unknown commands and corrupt models are usage/input errors (exit 2) with a clear message. */
class UsageErrorsTest {
  static CliRun arat(String... args) {
    return CliRun.arat(args);
  }

  @Test
  void anUnknownCommandWithHelpIsAUsageError() {
    var r = arat("quantise", "--help");
    assertEquals(ExitCodes.INPUT_ERROR, r.code(), r.out() + r.err());
    assertTrue(r.err().contains("unknown command 'quantise'"), r.err());
    assertTrue(!r.out().contains("Usage:"), "no top-level usage as if all were well: " + r.out());
  }

  @Test
  void aMisspelledCommandGetsASuggestion() {
    var r = arat("evaluat", "--model", "m.onnx");
    assertEquals(ExitCodes.INPUT_ERROR, r.code());
    assertTrue(
        r.err().contains("unknown command 'evaluat'")
            && r.err().contains("Did you mean: arat evaluate"),
        r.err());
    assertEquals(0, arat("--help").code());
  }

  @Test
  void inspectOnNegativeInitializerDimensionsIsAnInputError(@TempDir Path dir) {
    GraphBuilder g = new GraphBuilder("neg");
    String x = g.imageInput("input", 1, 2, 2);
    String f = g.node(Op.FLATTEN, x);
    TensorProto w =
        Tensors.floatTensor("w", new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 2, 4).toBuilder()
            .setDims(0, -2)
            .build();
    g.output(
        g.node(Op.GEMM, List.of(f, g.initializer(w)), Map.of("transB", 1)),
        "logits",
        Tensors.FLOAT,
        "N",
        2);
    ModelProto m = g.build(17);
    Path p = dir.resolve("neg.onnx");
    OnnxModels.save(m, p);
    var r = arat("inspect", p.toString());
    assertEquals(ExitCodes.INPUT_ERROR, r.code(), r.err());
    assertTrue(r.err().contains("initializer 'w' has a negative dimension"), r.err());
  }
}
