package dev.arat.onnx.grad;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.OnnxModelException;
import dev.arat.onnx.Op;
import dev.arat.specs.LossHead;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Corrupt models (ranks, axes, permutations, index lengths that no valid model has) get the
 * module's model exception, which the CLI reports with exit 2, never an IndexOutOfBounds,
 * NegativeArraySize or ArithmeticException from the shape inference or a gradient rule (exit 4, "a
 * bug in arat").
 */
class CorruptModelTest {
  /** Builds the op(s) under test on input x (N,4,6,6); returns the tensor fed to the head. */
  interface Body {
    String apply(GraphBuilder g, String x);
  }

  private static ModelProto model(Body body) {
    GraphBuilder g = new GraphBuilder("corrupt");
    String x = g.imageInput("input", 4, 6, 6);
    return Models.head(g, new Random(1), body.apply(g, x), 144, 3);
  }

  /** The model with {@code edit} applied to its first node of op type {@code opType}. */
  private static ModelProto edited(
      ModelProto m, String opType, UnaryOperator<NodeProto.Builder> edit) {
    var gb = m.getGraph().toBuilder();
    for (int i = 0; i < gb.getNodeCount(); i++) {
      if (gb.getNode(i).getOpType().equals(opType)) {
        gb.setNode(i, edit.apply(gb.getNode(i).toBuilder()).build());
        return m.toBuilder().setGraph(gb).build();
      }
    }
    throw new AssertionError("no " + opType);
  }

  private static NodeProto.Builder ints(NodeProto.Builder n, String name, long... v) {
    for (int i = 0; i < n.getAttributeCount(); i++) {
      if (n.getAttribute(i).getName().equals(name)) {
        n.removeAttribute(i);
        break;
      }
    }
    AttributeProto.Builder a =
        AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
    for (long x : v) {
      a.addInts(x);
    }
    return n.addAttribute(a);
  }

  private static NodeProto.Builder intAttr(NodeProto.Builder n, String name, long v) {
    for (int i = 0; i < n.getAttributeCount(); i++) {
      if (n.getAttribute(i).getName().equals(name)) {
        n.removeAttribute(i);
        break;
      }
    }
    return n.addAttribute(
        AttributeProto.newBuilder()
            .setName(name)
            .setType(AttributeProto.AttributeType.INT)
            .setI(v));
  }

  private static Map<String, Object> axis(long a) {
    return Map.of("axis", a);
  }

  static Stream<Arguments> cases() {
    ModelProto transpose =
        model((g, x) -> g.node(Op.TRANSPOSE, List.of(x), Map.of("perm", new long[] {0, 1, 3, 2})));
    ModelProto relu = model((g, x) -> g.node(Op.RELU, x));
    return Stream.of(
        c(
            "Transpose perm out of range",
            edited(transpose, "Transpose", n -> ints(n, "perm", 0, 1, 2, 7))),
        c("Transpose perm too short", edited(transpose, "Transpose", n -> ints(n, "perm", 0, 1))),
        c(
            "Transpose perm repeats an axis",
            edited(transpose, "Transpose", n -> ints(n, "perm", 0, 1, 2, 2))),
        c(
            "Slice axes out of range",
            model(
                (g, x) ->
                    g.node(
                        Op.SLICE,
                        x,
                        g.int64Vector("s", 0),
                        g.int64Vector("e", 2),
                        g.int64Vector("a", 9)))),
        c(
            "Slice starts and ends of different lengths",
            model(
                (g, x) ->
                    g.node(
                        Op.SLICE,
                        x,
                        g.int64Vector("s", 0, 0),
                        g.int64Vector("e", 2),
                        g.int64Vector("a", 2, 3)))),
        c(
            "Slice steps shorter than starts",
            model(
                (g, x) ->
                    g.node(
                        Op.SLICE,
                        x,
                        g.int64Vector("s", 0, 0),
                        g.int64Vector("e", 2, 2),
                        g.int64Vector("a", 2, 3),
                        g.int64Vector("st", 1)))),
        c(
            "Pad axes out of range (opset 18 axes input)",
            edited(
                model(
                    (g, x) -> {
                      g.int64Vector("ax", 9);
                      return g.node(Op.PAD, x, g.int64Vector("p", 1, 1), g.floatScalar("v", 0f));
                    }),
                "Pad",
                n -> n.addInput("ax"))),
        c(
            "Pad reflect with pads that make the axis negative",
            model(
                (g, x) ->
                    g.node(
                        Op.PAD,
                        List.of(x, g.int64Vector("p", 0, 0, 0, -9, 0, 0, 0, 0)),
                        Map.of("mode", "reflect")))),
        c("Concat axis out of range", model((g, x) -> g.node(Op.CONCAT, List.of(x, x), axis(5)))),
        c("Flatten axis out of range", model((g, x) -> g.node(Op.FLATTEN, List.of(x), axis(7)))),
        c(
            "Gather axis out of range",
            model((g, x) -> g.node(Op.GATHER, List.of(x, g.int64Vector("i", 0)), axis(9)))),
        c(
            "Unsqueeze axes out of range",
            model((g, x) -> g.node(Op.UNSQUEEZE, x, g.int64Vector("a", 9)))),
        c(
            "Squeeze axes out of range",
            model((g, x) -> g.node(Op.SQUEEZE, x, g.int64Vector("a", 9)))),
        c(
            "Split axis out of range",
            model((g, x) -> g.node(Op.CONCAT, g.node(Op.SPLIT, List.of(x), axis(9), 2), axis(1)))),
        c(
            "LayerNormalization axis out of range",
            model(
                (g, x) ->
                    g.node(Op.LAYER_NORMALIZATION, List.of(x, g.floatScalar("s", 1f)), axis(9)))),
        c(
            "ReduceMean axes out of range",
            model((g, x) -> g.node(Op.REDUCE_MEAN, List.of(x), Map.of("axes", new long[] {9})))),
        c(
            "MaxPool on a rank-2 tensor",
            model(
                (g, x) ->
                    g.node(
                        Op.MAX_POOL,
                        List.of(g.node(Op.FLATTEN, List.of(x), axis(1))),
                        Map.of("kernel_shape", new long[] {2, 2})))),
        c(
            "GlobalAveragePool on a rank-2 tensor",
            model(
                (g, x) -> g.node(Op.GLOBAL_AVERAGE_POOL, g.node(Op.FLATTEN, List.of(x), axis(1))))),
        c(
            "Conv with group 0",
            edited(
                model(
                    (g, x) -> g.node(Op.CONV, x, Models.convW(g, new Random(2), "w", 4, 4, 3, 3))),
                "Conv",
                n -> intAttr(n, "group", 0))),
        c(
            "Conv whose weight channels do not match its input",
            model((g, x) -> g.node(Op.CONV, x, Models.convW(g, new Random(2), "w", 4, 3, 3, 3)))),
        c(
            "MatMul of a rank-4 by a rank-1 tensor",
            model((g, x) -> g.node(Op.MAT_MUL, x, g.floatInitializer("v", new float[6], 6)))),
        c(
            "Gemm of a rank-4 tensor",
            edited(relu, "Flatten", n -> n.setOpType("Identity").clearAttribute())),
        c("Gemm without a common inner size", edited(relu, "Gemm", n -> intAttr(n, "transB", 0))),
        c(
            "MatMul without a common inner size",
            model((g, x) -> g.node(Op.MAT_MUL, x, g.floatInitializer("m", new float[10], 5, 2)))),
        c(
            "Unsqueeze with a repeated axis",
            model((g, x) -> g.node(Op.UNSQUEEZE, x, g.int64Vector("a", 1, 1)))),
        c(
            "Resize with fewer scales than axes and sizes",
            edited(
                model(
                    (g, x) ->
                        g.node(
                            Op.RESIZE,
                            x,
                            "",
                            g.floatInitializer("sc", new float[] {1, 1}, 2),
                            g.int64Vector("sz", 1, 4, 6, 6))),
                "Resize",
                n -> n)),
        c(
            "Reshape to a negative size",
            model((g, x) -> g.node(Op.RESHAPE, x, g.int64Vector("shape", -1, -5)))),
        c(
            "ConstantOfShape of a negative size feeding the path",
            model(
                (g, x) ->
                    g.node(Op.ADD, x, g.node(Op.CONSTANT_OF_SHAPE, g.int64Vector("shape", -5))))),
        c(
            "Range with an empty start",
            model(
                (g, x) ->
                    g.node(
                        Op.ADD,
                        x,
                        g.node(
                            Op.CAST,
                            List.of(
                                g.node(
                                    Op.RANGE,
                                    g.int64Initializer("start", new long[0], 0),
                                    g.int64Vector("limit", 6),
                                    g.int64Vector("delta", 1))),
                            Map.of("to", 1L))))));
  }

  private static Arguments c(String name, ModelProto m) {
    return Arguments.of(name, m);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void corruptModelIsAModelError(String name, ModelProto m) {
    for (LossHead head : List.of(LossHead.CE, LossHead.DLR_TARGETED)) {
      OnnxModelException e =
          assertThrows(
              OnnxModelException.class, () -> new GradientGraphBuilder().build(m, head), name);
      assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), name);
    }
  }
}
