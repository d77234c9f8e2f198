package dev.arat.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxModelsTest {
  @TempDir Path dir;

  static ModelProto tiny() {
    GraphBuilder g = new GraphBuilder("tiny");
    String x = g.imageInput("input", 1, 2, 2);
    String f = g.node(Op.FLATTEN, x);
    String w = g.floatInitializer("w", new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 2, 4);
    g.output(g.node(Op.GEMM, List.of(f, w), Map.of("transB", 1)), "logits", Tensors.FLOAT, "N", 2);
    return g.metadata("arat.seed", "7").build(17);
  }

  @Test
  void saveThenLoadRoundTripsAndLeavesNoTempFile() throws Exception {
    Path p = dir.resolve("sub/model.onnx");
    OnnxModels.save(tiny(), p);
    OnnxModels.save(tiny(), p); // overwrite
    ModelProto m = OnnxModels.load(p);
    assertEquals(tiny(), m);
    try (var s = Files.list(p.getParent())) {
      assertEquals(List.of("model.onnx"), s.map(q -> q.getFileName().toString()).toList());
    }
  }

  @Test
  void truncatedFileIsAClearError() throws Exception {
    byte[] bytes = tiny().toByteArray();
    Path p = dir.resolve("cut.onnx");
    Files.write(p, Arrays.copyOf(bytes, bytes.length / 2));
    OnnxModelException e = assertThrows(OnnxModelException.class, () -> OnnxModels.load(p));
    assertTrue(e.getMessage().startsWith("model file '" + p + "'"), e.getMessage());
    assertTrue(e.getMessage().contains("truncated or corrupt"), e.getMessage());
  }

  @Test
  void everyTruncationIsRejected() throws Exception {
    byte[] bytes = tiny().toByteArray();
    for (int len = 1; len < bytes.length; len += 7) {
      byte[] cut = Arrays.copyOf(bytes, len);
      assertThrows(OnnxModelException.class, () -> OnnxModels.parse(cut, "m"), "length " + len);
    }
  }

  @Test
  void missingEmptyGarbageAndDirectoryAreClearErrors() throws Exception {
    Path missing = dir.resolve("nope.onnx");
    assertTrue(
        assertThrows(OnnxModelException.class, () -> OnnxModels.load(missing))
            .getMessage()
            .contains("does not exist"));
    Path empty = Files.write(dir.resolve("empty.onnx"), new byte[0]);
    assertTrue(
        assertThrows(OnnxModelException.class, () -> OnnxModels.load(empty))
            .getMessage()
            .contains("is empty"));
    Path text = Files.writeString(dir.resolve("text.onnx"), "hello, not a model\n");
    String msg = assertThrows(OnnxModelException.class, () -> OnnxModels.load(text)).getMessage();
    assertTrue(msg.contains("text.onnx") && msg.contains("not a valid ONNX model"), msg);
    assertTrue(
        assertThrows(OnnxModelException.class, () -> OnnxModels.load(dir))
            .getMessage()
            .contains("is a directory"));
  }

  @Test
  void graphWithoutInputsIsAClearError() {
    ModelProto m = tiny();
    ModelProto noInputs = m.toBuilder().setGraph(m.getGraph().toBuilder().clearInput()).build();
    OnnxModelException e =
        assertThrows(
            OnnxModelException.class,
            () -> OnnxModels.parse(noInputs.toByteArray(), "model file 'x.onnx'"));
    assertTrue(e.getMessage().contains("model file 'x.onnx'"), e.getMessage());
    assertTrue(
        e.getMessage().contains("no inputs") || e.getMessage().contains("reads tensor"),
        e.getMessage());
  }

  @Test
  void tensorsRoundTripLittleEndian() {
    float[] f = {1.5f, -2f, 3.25f};
    var t = Tensors.floatTensor("t", f, 3);
    assertEquals(12, t.getRawData().size());
    assertEquals(0, t.getRawData().byteAt(0)); // 1.5f = 0x3FC00000, little-endian
    assertEquals((byte) 0xC0, t.getRawData().byteAt(2));
    assertArrayEquals(f, Tensors.toFloatArray(t));
    assertArrayEquals(
        new long[] {-1, 7}, Tensors.toLongArray(Tensors.int64Tensor("i", new long[] {-1, 7}, 2)));
    assertThrows(IllegalArgumentException.class, () -> Tensors.floatTensor("t", f, 2, 2));
  }

  /** OnnxModelFuzzTest found initializer data shorter than its shape (BufferUnderflowException). */
  @Test
  void tensorsWhoseDataDoesNotFitTheirShapeAreModelErrors() {
    ai.onnx.proto.OnnxMl.TensorProto ok = Tensors.floatTensor("fb", new float[] {1, 2, 3}, 3);
    String[] expected = {
      "shape [61] (61 values) but 12 bytes of raw data",
      "invalid or too large shape [-3]",
      "invalid or too large shape [65536, 65536]"
    };
    ai.onnx.proto.OnnxMl.TensorProto[] bad = {
      ok.toBuilder().clearDims().addDims(61).build(),
      ok.toBuilder().clearDims().addDims(-3).build(),
      ok.toBuilder().clearDims().addDims(65536).addDims(65536).build()
    };
    for (int i = 0; i < bad.length; i++) {
      ai.onnx.proto.OnnxMl.TensorProto t = bad[i];
      OnnxModelException e = assertThrows(OnnxModelException.class, () -> Tensors.toFloatArray(t));
      assertTrue(
          e.getMessage().contains("tensor 'fb'") && e.getMessage().contains(expected[i]),
          e.getMessage());
    }
    ai.onnx.proto.OnnxMl.TensorProto typed =
        ai.onnx.proto.OnnxMl.TensorProto.newBuilder()
            .setName("l")
            .setDataType(Tensors.INT64)
            .addDims(3)
            .addInt64Data(1)
            .build();
    OnnxModelException e = assertThrows(OnnxModelException.class, () -> Tensors.toLongArray(typed));
    assertTrue(e.getMessage().contains("(3 values) but 1 values"), e.getMessage());
    assertArrayEquals(new float[] {1, 2, 3}, Tensors.toFloatArray(ok));
  }

  /**
   * OnnxModelFuzzTest found a final Softmax without inputs (IndexOutOfBoundsException in
   * GraphScan); the gradient builder read node inputs without checking their count the same way.
   */
  @Test
  void nodesWithTooFewInputsAreModelErrors() throws Exception {
    String dir = "/dev/arat/onnx/OnnxModelFuzzTestInputs/onnxModel/";
    ModelProto crash =
        OnnxModels.parse(
            OnnxModelsTest.class
                .getResourceAsStream(dir + "crash-67d7b3275bb09883bf35fad0284e53712cfcd0d3")
                .readAllBytes(),
            "m");
    assertTrue(dev.arat.onnx.scan.GraphScan.scan(crash).isEmpty());
    ModelProto seed =
        OnnxModels.parse(
            OnnxModelsTest.class.getResourceAsStream(dir + "seed-conv-gemm.onnx").readAllBytes(),
            "m");
    ModelProto.Builder b = seed.toBuilder();
    b.getGraphBuilder().getNodeBuilder(3).clearInput().addInput("f"); // Gemm with only A
    OnnxModelException e =
        assertThrows(
            OnnxModelException.class,
            () ->
                new dev.arat.onnx.grad.GradientGraphBuilder()
                    .build(b.build(), dev.arat.specs.LossHead.CE));
    assertTrue(
        e.getMessage()
            .contains("(Gemm) has 1 input(s) and 1 output(s); Gemm takes at least 2 and 1"),
        e.getMessage());
    new dev.arat.onnx.grad.GradientGraphBuilder().build(seed, dev.arat.specs.LossHead.CE);
    // the next finding: a Conv in domain "ai.onnx" with one input (shape inference read input 1);
    // its initializer is also shorter than its shape, which parsing now refuses first
    byte[] conv1 =
        OnnxModelsTest.class
            .getResourceAsStream(dir + "crash-8e28eb859c0f225d1172af8086aa871a339cad31")
            .readAllBytes();
    e =
        assertThrows(
            OnnxModelException.class,
            () ->
                new dev.arat.onnx.grad.GradientGraphBuilder()
                    .build(OnnxModels.parse(conv1, "m"), dev.arat.specs.LossHead.CE));
    assertTrue(
        e.getMessage().contains("(Conv) has 1 input(s)")
            || e.getMessage().contains("bytes of data"),
        e.getMessage());
    ModelProto.Builder oneInputConv = seed.toBuilder();
    oneInputConv
        .getGraphBuilder()
        .getNodeBuilder(0)
        .setDomain("ai.onnx")
        .clearInput()
        .addInput(seed.getGraph().getNode(0).getInput(0));
    e =
        assertThrows(
            OnnxModelException.class,
            () ->
                new dev.arat.onnx.grad.GradientGraphBuilder()
                    .build(oneInputConv.build(), dev.arat.specs.LossHead.CE));
    assertTrue(e.getMessage().contains("(Conv) has 1 input(s)"), e.getMessage());
  }

  /** Conv shapes and windows that shape inference used without checking (OnnxModelFuzzTest). */
  @Test
  void convWithInconsistentRanksOrZeroStridesIsAModelError() throws Exception {
    ModelProto seed =
        OnnxModels.parse(
            OnnxModelsTest.class
                .getResourceAsStream(
                    "/dev/arat/onnx/OnnxModelFuzzTestInputs/onnxModel/seed-conv-gemm.onnx")
                .readAllBytes(),
            "m");
    ModelProto.Builder rank3 = seed.toBuilder();
    rank3.getGraphBuilder().getInitializerBuilder(0).clearDims().addDims(2).addDims(1).addDims(9);
    OnnxModelException e =
        assertThrows(
            OnnxModelException.class,
            () ->
                new dev.arat.onnx.grad.GradientGraphBuilder()
                    .build(rank3.build(), dev.arat.specs.LossHead.CE));
    assertTrue(e.getMessage().contains("weight of shape [2, 1, 9]"), e.getMessage());
    ModelProto.Builder stride0 = seed.toBuilder();
    ai.onnx.proto.OnnxMl.NodeProto.Builder conv = stride0.getGraphBuilder().getNodeBuilder(0);
    for (int i = 0; i < conv.getAttributeCount(); i++) {
      if (conv.getAttribute(i).getName().equals("strides")) {
        conv.getAttributeBuilder(i).clearInts().addInts(0).addInts(2);
      }
    }
    e =
        assertThrows(
            OnnxModelException.class,
            () ->
                new dev.arat.onnx.grad.GradientGraphBuilder()
                    .build(stride0.build(), dev.arat.specs.LossHead.CE));
    assertTrue(
        e.getMessage().contains("strides [0, 2]") && e.getMessage().contains("must be positive"),
        e.getMessage());
    // the fifth run: a pooling node without kernel_shape (my window check read its length)
    ModelProto pool =
        OnnxModels.parse(
            OnnxModelsTest.class
                .getResourceAsStream(
                    "/dev/arat/onnx/OnnxModelFuzzTestInputs/onnxModel/crash-16c39106ecbbb2354640fd6c1005b0f8fdad1778")
                .readAllBytes(),
            "m");
    e =
        assertThrows(
            OnnxModelException.class,
            () ->
                new dev.arat.onnx.grad.GradientGraphBuilder()
                    .build(pool, dev.arat.specs.LossHead.CE));
    assertTrue(e.getMessage().contains("has no kernel_shape"), e.getMessage());
  }
}
