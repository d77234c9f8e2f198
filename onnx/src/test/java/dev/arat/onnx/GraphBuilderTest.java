package dev.arat.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GraphBuilderTest {
  private static String msg(Runnable r) {
    return assertThrows(OnnxModelException.class, r::run).getMessage();
  }

  @Test
  void arityIsCheckedAndTheMessageNamesTheOp() {
    GraphBuilder g = new GraphBuilder("g");
    String x = g.imageInput("input", 1, 2, 2);
    String m = msg(() -> g.node(Op.CONV, x));
    assertTrue(m.startsWith("Conv node 'conv'") && m.contains("2 to 3 inputs, got 1"), m);
    m = msg(() -> g.node(Op.RELU, List.of(x, x), Map.of()));
    assertTrue(m.contains("Relu") && m.contains("exactly 1 inputs, got 2"), m);
    m = msg(() -> g.node(Op.RELU, List.of(x), Map.of(), 2));
    assertTrue(m.contains("outputs"), m);
  }

  @Test
  void attributesAreChecked() {
    GraphBuilder g = new GraphBuilder("g");
    String x = g.imageInput("input", 1, 4, 4);
    String m = msg(() -> g.node(Op.MAX_POOL, List.of(x), Map.of("kernel", new long[] {2, 2})));
    assertTrue(m.contains("MaxPool") && m.contains("unknown attribute 'kernel'"), m);
    m = msg(() -> g.node(Op.MAX_POOL, List.of(x), Map.of("strides", new long[] {2, 2})));
    assertTrue(m.contains("required attribute 'kernel_shape' is missing"), m);
    m = msg(() -> g.node(Op.FLATTEN, List.of(x), Map.of("axis", 1.5)));
    assertTrue(m.contains("Flatten") && m.contains("'axis' must be INT"), m);
    m = msg(() -> g.node(Op.CONV, List.of(x, x), Map.of("pads", 1)));
    assertTrue(m.contains("'pads' must be INTS"), m);
  }

  @Test
  void inputsMustBeDefinedAndExplicitNamesUnique() {
    GraphBuilder g = new GraphBuilder("g");
    String x = g.imageInput("input", 1, 2, 2);
    assertTrue(msg(() -> g.node(Op.RELU, "ghost")).contains("'ghost' is not defined"));
    g.nodeTo(Op.RELU, List.of(x), Map.of(), "y");
    assertTrue(msg(() -> g.nodeTo(Op.RELU, List.of(x), Map.of(), "y")).contains("already used"));
    assertTrue(msg(() -> g.imageInput("input", 1, 2, 2)).contains("already used"));
  }

  @Test
  void namesAreUniqueAndTheModelCarriesIrOpsetMetadataAndSymbolicBatch() {
    GraphBuilder g = new GraphBuilder("g");
    String x = g.imageInput("input", 3, 4, 4);
    String a = g.node(Op.RELU, x);
    String b = g.node(Op.RELU, a);
    assertNotEquals(a, b);
    String w1 = g.floatInitializer("w", new float[] {1f}, 1);
    String w2 = g.floatInitializer("w", new float[] {2f}, 1);
    assertNotEquals(w1, w2);
    g.output(g.node(Op.MUL, b, w2), "out", Tensors.FLOAT, "N", 3, 4, 4);
    ModelProto m = g.metadata("arat.model_hash", "abc").build(17);
    assertEquals(8, m.getIrVersion());
    assertEquals(17, m.getOpsetImport(0).getVersion());
    assertEquals("abc", m.getMetadataProps(0).getValue());
    assertEquals(
        "N", m.getGraph().getInput(0).getType().getTensorType().getShape().getDim(0).getDimParam());
    assertEquals(
        m.getGraph().getNodeCount(),
        m.getGraph().getNodeList().stream().map(NodeProto::getName).distinct().count());
    OnnxModels.check(m, "built model");
  }

  @Test
  void emptyGraphsAreRejectedOnBuild() {
    assertTrue(msg(() -> new GraphBuilder("e").build(17)).contains("no inputs"));
  }

  @Test
  void copyOfContinuesAnExistingGraph() {
    ModelProto base = OnnxModelsTest.tiny();
    GraphBuilder g = GraphBuilder.copyOf(base.getGraph());
    String y = g.node(Op.RELU, base.getGraph().getOutput(0).getName());
    assertTrue(msg(() -> g.node(Op.RELU, "nothing")).contains("not defined"));
    g.output(y, "relu_logits", Tensors.FLOAT, "N", 2);
    ModelProto m = g.build(17);
    assertEquals(
        base.getGraph().getNodeCount() + 2, m.getGraph().getNodeCount()); // relu + identity
    assertEquals(2, m.getGraph().getOutputCount());
    OnnxModels.check(m, "copied model");
  }
}
