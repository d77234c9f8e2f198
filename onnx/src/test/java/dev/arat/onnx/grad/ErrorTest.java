package dev.arat.onnx.grad;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.OnnxModelException;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.specs.LossHead;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Clear errors (and non-errors) of the gradient builder. */
class ErrorTest {

  private static ModelProto withOp(boolean onPath) {
    GraphBuilder g = new GraphBuilder("bad");
    String x = g.imageInput("input", 2, 4, 4);
    String p = g.node(Op.TILE, List.of(x, g.int64Vector("reps", 1, 1, 1, 2)), Map.of());
    if (!onPath) {
      // the logits come straight from x; Tile only feeds a second output the builder prunes
      ModelProto m = Models.head(g, new Random(1), x, 32, 3);
      return m.toBuilder()
          .setGraph(
              m.getGraph().toBuilder()
                  .addOutput(Tensors.valueInfo(p, Tensors.FLOAT, (Object[]) null)))
          .build();
    }
    return Models.head(g, new Random(1), p, 64, 3);
  }

  @Test
  void unsupportedOpOnPathNamesOpNodeAndSupportedSet() {
    UnsupportedOpException e =
        assertThrows(
            UnsupportedOpException.class,
            () -> new GradientGraphBuilder().build(withOp(true), LossHead.CE));
    assertEquals("Tile", e.opType());
    assertEquals("tile", e.nodeName());
    assertTrue(e.getMessage().contains("operator 'Tile' (node 'tile')"), e.getMessage());
    assertTrue(e.getMessage().contains("Supported ops: Abs, Add, AveragePool"), e.getMessage());
  }

  @Test
  void unsupportedOpOffPathIsPrunedNotRejected() {
    GradientGraph gg = new GradientGraphBuilder().build(withOp(false), LossHead.MARGIN);
    assertTrue(
        gg.model().getGraph().getNodeList().stream().noneMatch(n -> n.getOpType().equals("Tile")));
    assertTrue(gg.notes().get(0).message().contains("2 outputs"), gg.notes().toString());
  }

  @Test
  void controlFlowIsRejectedWithTheSameKindOfError() {
    ModelProto m = Models.cnn(1);
    GraphProto body = GraphProto.newBuilder().setName("then").build();
    NodeProto iff =
        NodeProto.newBuilder()
            .setOpType("If")
            .setName("branch")
            .addInput("image")
            .addOutput("unused")
            .addAttribute(
                AttributeProto.newBuilder()
                    .setName("then_branch")
                    .setType(AttributeProto.AttributeType.GRAPH)
                    .setG(body))
            .build();
    ModelProto bad = m.toBuilder().setGraph(m.getGraph().toBuilder().addNode(iff)).build();
    UnsupportedOpException e =
        assertThrows(
            UnsupportedOpException.class, () -> new GradientGraphBuilder().build(bad, LossHead.CE));
    assertTrue(e.getMessage().contains("'If' (node 'branch')"), e.getMessage());
    assertTrue(e.getMessage().contains("subgraph"), e.getMessage());
  }

  @Test
  void trainingModeBatchNormIsRejected() {
    GraphBuilder g = new GraphBuilder("bn");
    String x = g.imageInput("input", 2, 3, 3);
    float[] one = {1f, 1f};
    String bn =
        g.node(
            Op.BATCH_NORMALIZATION,
            List.of(
                x,
                g.floatInitializer("s", one, 2),
                g.floatInitializer("b", one, 2),
                g.floatInitializer("m", one, 2),
                g.floatInitializer("v", one, 2)),
            Map.of("training_mode", 1));
    ModelProto m = Models.head(g, new Random(1), bn, 18, 3);
    UnsupportedOpException e =
        assertThrows(
            UnsupportedOpException.class, () -> new GradientGraphBuilder().build(m, LossHead.CE));
    assertTrue(e.getMessage().contains("training mode"), e.getMessage());
  }

  @Test
  void tooFewClassesForDlrIsAClearError() {
    GraphBuilder g = new GraphBuilder("small");
    String x = g.imageInput("input", 1, 2, 2);
    ModelProto m = Models.head(g, new Random(1), x, 4, 3);
    OnnxModelException e =
        assertThrows(
            OnnxModelException.class,
            () -> new GradientGraphBuilder().build(m, LossHead.DLR_TARGETED));
    assertTrue(e.getMessage().contains("at least 4 classes"), e.getMessage());
    new GradientGraphBuilder().build(m, LossHead.DLR); // 3 classes are enough for DLR
  }

  @Test
  void oldOpsetAndMultipleInputsAreClearErrors() {
    ModelProto m = Models.cnn(1);
    ModelProto old =
        m.toBuilder().setOpsetImport(0, m.getOpsetImport(0).toBuilder().setVersion(11)).build();
    OnnxModelException e =
        assertThrows(
            OnnxModelException.class, () -> new GradientGraphBuilder().build(old, LossHead.CE));
    assertTrue(e.getMessage().contains("opset 11"), e.getMessage());
    ModelProto two =
        m.toBuilder()
            .setGraph(
                m.getGraph().toBuilder().addInput(Tensors.valueInfo("extra", Tensors.FLOAT, 1)))
            .build();
    e =
        assertThrows(
            OnnxModelException.class, () -> new GradientGraphBuilder().build(two, LossHead.CE));
    assertTrue(e.getMessage().contains("2 inputs [image, extra]"), e.getMessage());
  }

  @Test
  void reservedNamesInTheForwardGraphAreRenamed() {
    // forward tensors called "logits" and "labels" must not clash with the gradient graph's names
    GraphBuilder g = new GraphBuilder("clash");
    String x = g.imageInput("x", 2, 3, 3);
    String r = g.nodeTo(Op.RELU, List.of(x), Map.of(), "labels").get(0);
    String f = g.node(Op.FLATTEN, r);
    String w = g.floatInitializer("input", Models.randn(new Random(3), 4 * 18, 0.3), 4, 18);
    String z = g.nodeTo(Op.GEMM, List.of(f, w), Map.of("transB", 1), "logits").get(0);
    g.output(z, Tensors.FLOAT, "N", 4);
    ModelProto m = g.build(17);
    GradCheck.check(m, LossHead.CE, new long[] {2, 2, 3, 3}, 5, 1e-3, 5e-3);
    GradientGraph gg = new GradientGraphBuilder().build(m, LossHead.CE);
    assertEquals("fwd_logits", gg.logitsTensor());
  }

  @Test
  void unsupportedConfigurationsNameTheOpAndWhy() {
    // Resize cubic
    GraphBuilder g = new GraphBuilder("cubic");
    String x = g.imageInput("input", 1, 3, 3);
    String r =
        g.node(
            Op.RESIZE,
            List.of(x, "", g.floatInitializer("sc", new float[] {1, 1, 2, 2}, 4)),
            Map.of("mode", "cubic"));
    ModelProto m = Models.head(g, new Random(1), r, 36, 3);
    UnsupportedOpException e =
        assertThrows(
            UnsupportedOpException.class, () -> new GradientGraphBuilder().build(m, LossHead.CE));
    assertTrue(e.getMessage().contains("mode 'cubic'"), e.getMessage());
    // Gather on activations with indices computed at run time
    GraphBuilder g2 = new GraphBuilder("gather");
    String x2 = g2.imageInput("input", 2, 2, 2);
    String idx =
        g2.node(Op.ARG_MAX, List.of(g2.node(Op.FLATTEN, x2)), Map.of("axis", 1, "keepdims", 0));
    String gat = g2.node(Op.GATHER, List.of(x2, idx), Map.of("axis", 0));
    ModelProto m2 = Models.head(g2, new Random(1), gat, 8, 3);
    e =
        assertThrows(
            UnsupportedOpException.class, () -> new GradientGraphBuilder().build(m2, LossHead.CE));
    assertTrue(e.getMessage().contains("its indices must be a constant"), e.getMessage());
  }

  @Test
  void geluOpOfOpset20MatchesFiniteDifferences() {
    for (String approx : new String[] {"none", "tanh"}) {
      GraphBuilder g = new GraphBuilder("gelu");
      String x = g.imageInput("input", 2, 3, 3);
      String v =
          g.node(Op.MUL, g.node(Op.SUB, x, g.floatScalar("h", 0.5f)), g.floatScalar("s", 5f));
      String y = g.node(Op.GELU, List.of(v), Map.of("approximate", approx));
      String f = g.node(Op.FLATTEN, y);
      String z =
          g.node(
              Op.GEMM,
              List.of(f, g.floatInitializer("w", Models.randn(new Random(2), 4 * 18, 0.3), 4, 18)),
              Map.of("transB", 1));
      g.output(z, "logits", Tensors.FLOAT, "N", 4);
      ModelProto m = g.build(20);
      GradCheck.check(m, LossHead.CE, new long[] {2, 2, 3, 3}, 9, 1e-3, 5e-3);
      assertEquals(
          20,
          new GradientGraphBuilder().build(m, LossHead.CE).model().getOpsetImport(0).getVersion());
    }
  }
}
