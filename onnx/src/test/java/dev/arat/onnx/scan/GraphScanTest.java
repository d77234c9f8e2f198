package dev.arat.onnx.scan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.onnx.grad.GradientGraphBuilder;
import dev.arat.onnx.grad.UnsupportedOpException;
import dev.arat.specs.LossHead;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import org.junit.jupiter.api.Test;

/** Each finding code on a minimal graph, and no findings on clean or off-path cases. */
class GraphScanTest {

  private static NodeProto raw(
      String op, String name, List<String> in, String out, AttributeProto... attrs) {
    NodeProto.Builder b =
        NodeProto.newBuilder().setOpType(op).setName(name).addAllInput(in).addOutput(out);
    for (AttributeProto a : attrs) {
      b.addAttribute(a);
    }
    return b.build();
  }

  private static AttributeProto intAttr(String name, long v) {
    return AttributeProto.newBuilder()
        .setName(name)
        .setType(AttributeProto.AttributeType.INT)
        .setI(v)
        .build();
  }

  /** input (N,1,2,2) -> body -> Flatten -> logits (N,4); body gets the builder and x. */
  private static ModelProto model(BiFunction<GraphBuilder, String, String> body) {
    GraphBuilder g = new GraphBuilder("m");
    String x = g.imageInput("input", 1, 2, 2);
    String y = body.apply(g, x);
    g.output(g.node(Op.FLATTEN, y), "logits", Tensors.FLOAT, "N", 4);
    return g.build(17);
  }

  private static List<String> codes(ModelProto m) {
    return GraphScan.scan(m).stream().map(GraphScan.Finding::code).toList();
  }

  @Test
  void cleanModelHasNoFindings() {
    ModelProto m = model((g, x) -> g.node(Op.RELU, x));
    assertEquals(List.of(), GraphScan.scan(m));
    assertFalse(GraphScan.hasErrors(GraphScan.scan(m)));
  }

  @Test
  void roundingOnThePathIsAnError() {
    ModelProto m =
        model(
            (g, x) -> {
              g.appendRaw(raw("Round", "quantise", List.of(x), "r"));
              return g.node(Op.ADD, "r", x);
            });
    List<GraphScan.Finding> f = GraphScan.scan(m);
    assertEquals(List.of(GraphScan.ROUNDING), codes(m));
    assertEquals("quantise", f.get(0).node());
    assertEquals("Round", f.get(0).opType());
    assertEquals(GraphScan.Severity.ERROR, f.get(0).severity());
    assertTrue(f.get(0).message().contains("gradient masking"), f.get(0).message());
    // the gradient builder still works (the path through x carries the gradient) but notes it
    var gg = new GradientGraphBuilder().build(m, LossHead.CE);
    assertTrue(
        gg.notes().stream().anyMatch(n -> n.message().contains("quantise")), gg.notes().toString());
  }

  @Test
  void integerCastOnThePathIsAnError() {
    ModelProto m =
        model(
            (g, x) -> {
              String c =
                  g.node(
                      Op.CAST,
                      List.of(g.node(Op.MUL, x, g.floatScalar("s", 255f))),
                      Map.of("to", Tensors.INT64));
              String back = g.node(Op.CAST, List.of(c), Map.of("to", Tensors.FLOAT));
              return g.node(Op.ADD, back, x);
            });
    assertEquals(List.of(GraphScan.INTEGER_CAST), codes(m));
  }

  @Test
  void castOfConstantsAndShapesIsNotFlagged() {
    ModelProto m =
        model(
            (g, x) -> {
              String c = g.node(Op.CAST, List.of(g.node(Op.SHAPE, x)), Map.of("to", Tensors.INT64));
              return g.node(Op.RESHAPE, x, c);
            });
    assertEquals(List.of(), codes(m));
  }

  @Test
  void quantisationOnThePathIsStraightThroughOrAnError() {
    ModelProto m =
        model(
            (g, x) -> {
              String s = g.floatScalar("scale", 1 / 255f);
              g.appendRaw(raw("QuantizeLinear", "q", List.of(x, s), "xq"));
              g.appendRaw(raw("DequantizeLinear", "dq", List.of("xq", s), "xd"));
              return "xd";
            });
    // a Q/DQ pair is differentiated straight-through; no zero point means uint8: not TensorRT's
    assertEquals(
        List.of(GraphScan.STRAIGHT_THROUGH, GraphScan.NOT_TENSORRT, GraphScan.NOT_TENSORRT),
        codes(m));
    ModelProto notPaired =
        model(
            (g, x) -> {
              String s = g.floatScalar("scale", 1 / 255f);
              g.appendRaw(raw("QuantizeLinear", "q", List.of(x, s), "xq"));
              return g.node(Op.CAST, List.of("xq"), Map.of("to", (long) Tensors.FLOAT));
            });
    assertEquals(GraphScan.QUANTIZATION, codes(notPaired).get(0));
  }

  @Test
  void randomOpsAndTrainingDropoutAreErrors() {
    ModelProto m =
        model(
            (g, x) -> {
              g.appendRaw(raw("RandomNormalLike", "noise", List.of(x), "n"));
              String y = g.node(Op.ADD, x, "n");
              String on =
                  g.initializer(
                      Tensors.int64Tensor("on", new long[] {1}).toBuilder()
                          .setDataType(Tensors.BOOL)
                          .clearRawData()
                          .setRawData(com.google.protobuf.ByteString.copyFrom(new byte[] {1}))
                          .build());
              return g.node(Op.DROPOUT, List.of(y, g.floatScalar("ratio", 0.5f), on), Map.of());
            });
    assertEquals(List.of(GraphScan.RANDOM_OP, GraphScan.DROPOUT_TRAINING), codes(m));
  }

  @Test
  void inferenceDropoutIsFine() {
    ModelProto m = model((g, x) -> g.node(Op.DROPOUT, x));
    assertEquals(List.of(), codes(m));
  }

  @Test
  void controlFlowIsAnErrorAndTheBuilderRejectsIt() {
    ModelProto m =
        model(
            (g, x) -> {
              g.appendRaw(
                  raw(
                      "If",
                      "branch",
                      List.of(
                          g.node(
                              Op.CAST,
                              List.of(g.int64Initializer("c", new long[] {1})),
                              Map.of("to", Tensors.BOOL))),
                      "b",
                      AttributeProto.newBuilder()
                          .setName("then_branch")
                          .setType(AttributeProto.AttributeType.GRAPH)
                          .setG(GraphProto.newBuilder().setName("then"))
                          .build()));
              return x;
            });
    assertEquals(List.of(GraphScan.CONTROL_FLOW), codes(m));
    UnsupportedOpException e =
        assertThrows(
            UnsupportedOpException.class, () -> new GradientGraphBuilder().build(m, LossHead.CE));
    assertTrue(e.getMessage().contains("'If' (node 'branch')"), e.getMessage());
  }

  @Test
  void loopOnThePathIsAnError() {
    ModelProto m =
        model(
            (g, x) -> {
              g.appendRaw(
                  raw(
                      "Loop",
                      "loop",
                      List.of("", ""),
                      "l",
                      AttributeProto.newBuilder()
                          .setName("body")
                          .setType(AttributeProto.AttributeType.GRAPH)
                          .setG(GraphProto.newBuilder().setName("body"))
                          .build()));
              return x;
            });
    assertEquals(GraphScan.CONTROL_FLOW, codes(m).get(0));
    assertThrows(
        UnsupportedOpException.class, () -> new GradientGraphBuilder().build(m, LossHead.MARGIN));
  }

  @Test
  void unsupportedOpOnThePathAndFinalSoftmax() {
    ModelProto m =
        model(
            (g, x) -> {
              g.appendRaw(raw("LRN", "lrn", List.of(x), "lrn_out", intAttr("size", 3)));
              return "lrn_out";
            });
    GraphProto.Builder gb = m.getGraph().toBuilder();
    String logits = gb.getOutput(0).getName();
    gb.addNode(raw("Softmax", "probs", List.of(logits), "p", intAttr("axis", 1)));
    gb.setOutput(0, Tensors.valueInfo("p", Tensors.FLOAT, "N", 4));
    ModelProto withSoftmax = m.toBuilder().setGraph(gb).build();
    List<GraphScan.Finding> f = GraphScan.scan(withSoftmax);
    assertEquals(
        List.of(GraphScan.FINAL_SOFTMAX, GraphScan.UNSUPPORTED_OP),
        f.stream().map(GraphScan.Finding::code).toList());
    assertEquals(GraphScan.Severity.INFO, f.get(0).severity());
    assertTrue(f.get(1).message().contains("'LRN'"), f.get(1).message());
    UnsupportedOpException e =
        assertThrows(
            UnsupportedOpException.class,
            () -> new GradientGraphBuilder().build(withSoftmax, LossHead.CE));
    assertEquals("LRN", e.opType());
  }

  @Test
  void opsOffThePathAreNotFlagged() {
    // Round on a constant, and an unsupported op feeding only an extra output
    ModelProto m =
        model(
            (g, x) -> {
              g.appendRaw(raw("Round", "rc", List.of(g.floatScalar("k", 0.4f)), "kr"));
              g.appendRaw(raw("LRN", "side", List.of(x), "side_out", intAttr("size", 3)));
              return g.node(Op.MUL, x, "kr");
            });
    assertEquals(List.of(), codes(m));
  }
}
