package dev.arat.onnx.grad;

import static dev.arat.onnx.grad.Models.convW;
import static dev.arat.onnx.grad.Models.randn;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.specs.LossHead;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each supported op (with a variety of attributes) in a minimal chain input -> op(s) -> Flatten ->
 * Gemm -> logits, checked against central finite differences (CE head; MARGIN for a few).
 */
class OpGradientTest {
  private static final int K = 4;

  /** The op(s) under test: take the builder, a seeded Random and the input; return the result. */
  interface Body {
    String apply(GraphBuilder g, Random r, String x);
  }

  private static Map<String, Object> a(Object... kv) {
    java.util.LinkedHashMap<String, Object> m = new java.util.LinkedHashMap<>();
    for (int i = 0; i < kv.length; i += 2) {
      m.put((String) kv[i], kv[i + 1]);
    }
    return m;
  }

  private static long[] l(long... v) {
    return v;
  }

  private static String conv(
      GraphBuilder g, Random r, String x, int c, int m, int k, Map<String, Object> attrs) {
    return g.node(
        Op.CONV,
        List.of(
            x,
            convW(g, r, "w", m, c / (int) (long) (Long) attrs.getOrDefault("group", 1L), k, k),
            g.floatInitializer("b", randn(r, m, 0.1), m)),
        attrs);
  }

  private static String centered(GraphBuilder g, String x) {
    return g.node(Op.SUB, x, g.floatScalar("half", 0.5f));
  }

  static Stream<Arguments> cases() {
    return Stream.of(
        c(
            "conv k3 s2 p1 (output_padding 1)",
            3,
            8,
            (g, r, x) -> conv(g, r, x, 3, 4, 3, a("strides", l(2, 2), "pads", l(1, 1, 1, 1)))),
        c(
            "conv k3 dilation 2",
            2,
            7,
            (g, r, x) -> conv(g, r, x, 2, 3, 3, a("dilations", l(2, 2), "pads", l(2, 1, 1, 2)))),
        c(
            "conv group 2",
            4,
            6,
            (g, r, x) -> conv(g, r, x, 4, 6, 3, a("group", 2L, "pads", l(1, 1, 1, 1)))),
        c(
            "conv depthwise group 3, stride 2",
            3,
            7,
            (g, r, x) -> conv(g, r, x, 3, 3, 3, a("group", 3L, "strides", l(2, 2)))),
        c(
            "conv SAME_UPPER k4 s2",
            2,
            7,
            (g, r, x) -> conv(g, r, x, 2, 3, 4, a("auto_pad", "SAME_UPPER", "strides", l(2, 2)))),
        c(
            "conv SAME_LOWER k4 s2",
            2,
            7,
            (g, r, x) -> conv(g, r, x, 2, 3, 4, a("auto_pad", "SAME_LOWER", "strides", l(2, 2)))),
        c(
            "conv VALID k3 s2",
            2,
            8,
            (g, r, x) -> conv(g, r, x, 2, 3, 3, a("auto_pad", "VALID", "strides", l(2, 2)))),
        c(
            "conv asymmetric pads, strides (1,2)",
            2,
            6,
            (g, r, x) ->
                g.node(
                    Op.CONV,
                    List.of(x, g.floatInitializer("w", randn(r, 3 * 2 * 2 * 3, 0.5), 3, 2, 2, 3)),
                    a("pads", l(0, 1, 2, 1), "strides", l(1, 2), "kernel_shape", l(2, 3)))),
        c(
            "maxpool k3 s2 p1 (overlapping)",
            2,
            7,
            (g, r, x) ->
                g.node(
                    Op.MAX_POOL,
                    List.of(conv(g, r, x, 2, 2, 3, a("pads", l(1, 1, 1, 1)))),
                    a("kernel_shape", l(3, 3), "strides", l(2, 2), "pads", l(1, 1, 1, 1)))),
        c(
            "maxpool k2 s2 (disjoint blocks, no Indices)",
            2,
            8,
            (g, r, x) ->
                g.node(
                    Op.MAX_POOL,
                    List.of(conv(g, r, x, 2, 3, 3, a("pads", l(1, 1, 1, 1)))),
                    a("kernel_shape", l(2, 2), "strides", l(2, 2)))),
        c(
            "maxpool k3 s3 after relu (blocks, mask at pooled size)",
            2,
            6,
            (g, r, x) ->
                g.node(
                    Op.MAX_POOL,
                    List.of(g.node(Op.RELU, conv(g, r, x, 2, 4, 3, a("pads", l(1, 1, 1, 1))))),
                    a("kernel_shape", l(3, 3), "strides", l(3, 3)))),
        c(
            "conv 4->3 stride 1 (flipped-kernel adjoint)",
            4,
            5,
            (g, r, x) -> conv(g, r, x, 4, 3, 3, a("pads", l(1, 1, 1, 1)))),
        c(
            "maxpool k2 s2 ceil_mode",
            2,
            7,
            (g, r, x) ->
                g.node(
                    Op.MAX_POOL,
                    List.of(x),
                    a("kernel_shape", l(2, 2), "strides", l(2, 2), "ceil_mode", 1L))),
        c(
            "maxpool k2 s1 dilation 2",
            2,
            6,
            (g, r, x) ->
                g.node(Op.MAX_POOL, List.of(x), a("kernel_shape", l(2, 2), "dilations", l(2, 2)))),
        c(
            "maxpool SAME_UPPER k3 s2",
            2,
            6,
            (g, r, x) ->
                g.node(
                    Op.MAX_POOL,
                    List.of(x),
                    a("kernel_shape", l(3, 3), "strides", l(2, 2), "auto_pad", "SAME_UPPER"))),
        c(
            "avgpool k3 s2 p1 count_include_pad=0",
            2,
            7,
            (g, r, x) ->
                g.node(
                    Op.AVERAGE_POOL,
                    List.of(x),
                    a("kernel_shape", l(3, 3), "strides", l(2, 2), "pads", l(1, 1, 1, 1)))),
        c(
            "avgpool k3 s2 p1 count_include_pad=1",
            2,
            7,
            (g, r, x) ->
                g.node(
                    Op.AVERAGE_POOL,
                    List.of(x),
                    a(
                        "kernel_shape",
                        l(3, 3),
                        "strides",
                        l(2, 2),
                        "pads",
                        l(1, 1, 1, 1),
                        "count_include_pad",
                        1L))),
        c(
            "avgpool asymmetric pads (0,1,2,0)",
            2,
            6,
            (g, r, x) ->
                g.node(
                    Op.AVERAGE_POOL,
                    List.of(x),
                    a("kernel_shape", l(3, 2), "strides", l(2, 1), "pads", l(0, 1, 2, 0)))),
        c(
            "avgpool SAME_UPPER k2 s2",
            2,
            7,
            (g, r, x) ->
                g.node(
                    Op.AVERAGE_POOL,
                    List.of(x),
                    a("kernel_shape", l(2, 2), "strides", l(2, 2), "auto_pad", "SAME_UPPER"))),
        c(
            "global average pool",
            3,
            5,
            (g, r, x) -> g.node(Op.GLOBAL_AVERAGE_POOL, conv(g, r, x, 3, 4, 3, a()))),
        c(
            "batch normalization",
            3,
            4,
            (g, r, x) ->
                g.node(
                    Op.BATCH_NORMALIZATION,
                    List.of(
                        x,
                        g.floatInitializer("s", Models.uniform(r, 3, 0.5, 2), 3),
                        g.floatInitializer("bb", randn(r, 3, 0.1), 3),
                        g.floatInitializer("m", randn(r, 3, 0.2), 3),
                        g.floatInitializer("v", Models.uniform(r, 3, 0.01, 0.2), 3)),
                    a("epsilon", 1e-3f))),
        c("relu", 2, 4, (g, r, x) -> g.node(Op.RELU, centered(g, x))),
        c(
            "leaky relu",
            2,
            4,
            (g, r, x) -> g.node(Op.LEAKY_RELU, List.of(centered(g, x)), a("alpha", 0.2f))),
        c("sigmoid", 2, 4, (g, r, x) -> g.node(Op.SIGMOID, centered(g, x))),
        c("tanh", 2, 4, (g, r, x) -> g.node(Op.TANH, centered(g, x))),
        c("identity and dropout", 2, 4, (g, r, x) -> g.node(Op.DROPOUT, g.node(Op.IDENTITY, x))),
        c(
            "softmax over channels (internal)",
            3,
            4,
            (g, r, x) ->
                g.node(
                    Op.SOFTMAX, List.of(g.node(Op.MUL, x, g.floatScalar("t", 3f))), a("axis", 1L))),
        c(
            "reshape [0,C*H,W] + transpose",
            2,
            4,
            (g, r, x) ->
                g.node(
                    Op.TRANSPOSE,
                    List.of(g.node(Op.RESHAPE, x, g.int64Vector("s", 0, -1, 4))),
                    a("perm", l(0, 2, 1)))),
        c(
            "torch-style reshape via Shape/Gather/Unsqueeze/Concat",
            2,
            4,
            (g, r, x) -> {
              String n =
                  g.node(
                      Op.GATHER,
                      List.of(g.node(Op.SHAPE, x), g.int64Initializer("i0", new long[] {0})),
                      a("axis", 0L));
              String n1 = g.node(Op.UNSQUEEZE, n, g.int64Vector("ax", 0));
              String shape = g.node(Op.CONCAT, List.of(n1, g.int64Vector("m1", -1)), a("axis", 0L));
              return g.node(Op.RESHAPE, x, shape);
            }),
        c(
            "squeeze / unsqueeze",
            3,
            4,
            (g, r, x) ->
                g.node(
                    Op.UNSQUEEZE,
                    g.node(Op.SQUEEZE, g.node(Op.GLOBAL_AVERAGE_POOL, x), g.int64Vector("a", 2, 3)),
                    g.int64Vector("b", 1))),
        c(
            "add: input-dependent broadcast operand (x + GAP(x))",
            2,
            4,
            (g, r, x) -> g.node(Op.ADD, x, g.node(Op.GLOBAL_AVERAGE_POOL, x))),
        c(
            "mul: squeeze-excitation x * sigmoid(GAP(x))",
            2,
            4,
            (g, r, x) -> g.node(Op.MUL, g.node(Op.SIGMOID, g.node(Op.GLOBAL_AVERAGE_POOL, x)), x)),
        c(
            "div: both operands depend on x",
            2,
            4,
            (g, r, x) ->
                g.node(Op.DIV, x, g.node(Op.ADD, g.node(Op.MUL, x, x), g.floatScalar("one", 1f)))),
        c(
            "sub: constant - x and x - rowmean",
            2,
            4,
            (g, r, x) ->
                g.node(
                    Op.SUB,
                    g.node(Op.SUB, g.floatInitializer("c", randn(r, 4, 1), 4), x),
                    g.node(Op.GLOBAL_AVERAGE_POOL, x))),
        c(
            "mul / div with broadcast constants (normalisation)",
            2,
            4,
            (g, r, x) ->
                g.node(
                    Op.DIV,
                    g.node(Op.MUL, x, g.floatInitializer("s", new float[] {2f, -1f}, 2, 1, 1)),
                    g.floatInitializer("d", new float[] {0.5f, 0.25f, 2f, 1f}, 4))),
        c(
            "sum of three",
            2,
            4,
            (g, r, x) ->
                g.node(Op.SUM, List.of(x, g.node(Op.MUL, x, x), g.floatScalar("k", 0.3f)), a())),
        c(
            "matmul: both operands depend on x, batched",
            2,
            4,
            (g, r, x) -> {
              String m = g.node(Op.RESHAPE, x, g.int64Vector("s", 0, 2, 16)); // (N,2,16)
              String t = g.node(Op.TRANSPOSE, List.of(m), a("perm", l(0, 2, 1))); // (N,16,2)
              return g.node(Op.MAT_MUL, m, t); // (N,2,2)
            }),
        c(
            "matmul: rank-4 by constant matrix",
            2,
            4,
            (g, r, x) -> g.node(Op.MAT_MUL, x, g.floatInitializer("w", randn(r, 12, 0.5), 4, 3))),
        c(
            "gemm transA=1 transB=1 alpha beta",
            2,
            3,
            (g, r, x) -> {
              String f = g.node(Op.FLATTEN, x);
              String ft = g.node(Op.TRANSPOSE, f); // (F,N)
              return g.node(
                  Op.GEMM,
                  List.of(
                      ft,
                      g.floatInitializer("w", randn(r, 5 * 18, 0.3), 5, 18),
                      g.floatInitializer("c", randn(r, 5, 0.3), 5)),
                  a("transA", 1L, "transB", 1L, "alpha", 0.7f, "beta", 1.3f));
            }),
        c(
            "gemm with input as B (transB=1, then transposed)",
            2,
            3,
            (g, r, x) -> {
              String f = g.node(Op.FLATTEN, x); // (N,18)
              String kn =
                  g.node(
                      Op.GEMM,
                      List.of(g.floatInitializer("w", randn(r, 5 * 18, 0.3), 5, 18), f),
                      a("transB", 1L, "alpha", 1.5f)); // (5,N)
              return g.node(Op.TRANSPOSE, kn);
            }),
        c(
            "gemm with input as B (transB=0) and input-dependent C",
            2,
            3,
            (g, r, x) -> {
              String f = g.node(Op.FLATTEN, x); // (N,18)
              String ft = g.node(Op.TRANSPOSE, f); // (18,N)
              String kn =
                  g.node(
                      Op.GEMM,
                      List.of(
                          g.floatInitializer("w", randn(r, 5 * 18, 0.3), 5, 18),
                          ft,
                          g.node(
                              Op.REDUCE_SUM,
                              List.of(ft, g.int64Vector("ax", 0)),
                              a("keepdims", 1L))),
                      a("beta", 0.5f)); // (5,N) + (1,N)
              return g.node(Op.TRANSPOSE, kn);
            }),
        c(
            "reduce mean over H,W keepdims=0 (torch GAP)",
            3,
            4,
            (g, r, x) -> g.node(Op.REDUCE_MEAN, List.of(x), a("axes", l(2, 3), "keepdims", 0L))),
        c(
            "reduce sum over C keepdims=1",
            3,
            4,
            (g, r, x) ->
                g.node(
                    Op.MUL,
                    x,
                    g.node(Op.REDUCE_SUM, List.of(x, g.int64Vector("ax", 1)), a("keepdims", 1L)))),
        // ---- activations and elementwise math
        c(
            "prelu (per-channel slope)",
            3,
            4,
            (g, r, x) ->
                g.node(
                    Op.PRELU,
                    centered(g, x),
                    g.floatInitializer("slope", new float[] {0.1f, -0.3f, 0.7f}, 3, 1, 1))),
        c(
            "clip min and max (relu6 style, scaled)",
            2,
            4,
            (g, r, x) ->
                g.node(
                    Op.CLIP,
                    g.node(Op.MUL, centered(g, x), g.floatScalar("s", 20f)),
                    g.floatScalar("lo", -2f),
                    g.floatScalar("hi", 3f))),
        c(
            "clip min only",
            2,
            4,
            (g, r, x) -> g.node(Op.CLIP, List.of(centered(g, x), g.floatScalar("lo", 0.05f)), a())),
        c(
            "hard sigmoid alpha 0.5 beta 0.3",
            2,
            4,
            (g, r, x) ->
                g.node(
                    Op.HARD_SIGMOID,
                    List.of(g.node(Op.MUL, centered(g, x), g.floatScalar("s", 4f))),
                    a("alpha", 0.5f, "beta", 0.3f))),
        c(
            "hard swish over [-4,4]",
            2,
            4,
            (g, r, x) ->
                g.node(Op.HARD_SWISH, g.node(Op.MUL, centered(g, x), g.floatScalar("s", 10f)))),
        c(
            "erf",
            2,
            4,
            (g, r, x) -> g.node(Op.ERF, g.node(Op.MUL, centered(g, x), g.floatScalar("s", 3f)))),
        c(
            "gelu as exported by torch (x/2 (1 + erf(x/sqrt2)))",
            2,
            4,
            (g, r, x) -> {
              String v = g.node(Op.MUL, centered(g, x), g.floatScalar("s", 4f));
              String e =
                  g.node(Op.ERF, g.node(Op.DIV, v, g.floatScalar("r2", (float) Math.sqrt(2))));
              return g.node(
                  Op.MUL,
                  g.node(Op.MUL, v, g.node(Op.ADD, e, g.floatScalar("one", 1f))),
                  g.floatScalar("h", 0.5f));
            }),
        c(
            "pow: x^2 and x^0.5 (float and int64 exponents)",
            2,
            4,
            (g, r, x) ->
                g.node(
                    Op.ADD,
                    g.node(Op.POW, x, g.int64Initializer("two", new long[] {2})),
                    g.node(Op.POW, x, g.floatScalar("half", 0.5f)))),
        c(
            "pow: constant base, exponent depends on x",
            2,
            4,
            (g, r, x) ->
                g.node(Op.POW, g.floatInitializer("base", new float[] {1.5f, 3f}, 2, 1, 1), x)),
        c(
            "sqrt, neg, exp, log, reciprocal, abs",
            2,
            4,
            (g, r, x) ->
                g.node(
                    Op.SUM,
                    List.of(
                        g.node(Op.SQRT, x),
                        g.node(Op.NEG, g.node(Op.EXP, x)),
                        g.node(Op.LOG, x),
                        g.node(Op.RECIPROCAL, g.node(Op.ADD, x, g.floatScalar("one", 1f))),
                        g.node(Op.ABS, centered(g, x))),
                    a())),
        c(
            "log softmax over channels (internal)",
            3,
            4,
            (g, r, x) ->
                g.node(
                    Op.LOG_SOFTMAX,
                    List.of(g.node(Op.MUL, x, g.floatScalar("t", 3f))),
                    a("axis", 1L))),
        // ---- tensor plumbing on activations
        c(
            "concat along channels (x, relu(x - 0.5))",
            2,
            4,
            (g, r, x) ->
                g.node(Op.CONCAT, List.of(x, g.node(Op.RELU, centered(g, x))), a("axis", 1L))),
        c(
            "concat along the last axis (negative axis), x used twice",
            2,
            3,
            (g, r, x) -> g.node(Op.CONCAT, List.of(x, g.node(Op.MUL, x, x), x), a("axis", -1L))),
        c(
            "split (sizes input) and both halves used",
            4,
            3,
            (g, r, x) -> {
              List<String> parts =
                  g.node(Op.SPLIT, List.of(x, g.int64Vector("sz", 1, 3)), a("axis", 1L), 2);
              return g.node(
                  Op.MUL,
                  g.node(
                      Op.REDUCE_SUM,
                      List.of(parts.get(1), g.int64Vector("ax", 1)),
                      a("keepdims", 1L)),
                  parts.get(0));
            }),
        c(
            "split equal along H, only the last part used",
            2,
            6,
            (g, r, x) -> g.node(Op.SPLIT, List.of(x), a("axis", 2L), 3).get(2)),
        c(
            "slice step 1 on two axes, negative start",
            3,
            6,
            (g, r, x) ->
                g.node(
                    Op.SLICE,
                    x,
                    g.int64Vector("st", 1, -4),
                    g.int64Vector("en", 3, Long.MAX_VALUE),
                    g.int64Vector("ax", 1, 3))),
        c(
            "slice step 2 and negative step (flip)",
            2,
            6,
            (g, r, x) ->
                g.node(
                    Op.SLICE,
                    x,
                    g.int64Vector("st", 5, 0),
                    g.int64Vector("en", -100, 6),
                    g.int64Vector("ax", 2, 3),
                    g.int64Vector("sp", -1, 2))),
        c(
            "gather on activations: x[:, 1] (scalar index, like a ViT class token)",
            3,
            4,
            (g, r, x) ->
                g.node(
                    Op.GATHER, List.of(x, g.int64Initializer("i", new long[] {1})), a("axis", 1L))),
        c(
            "gather on activations: repeated, negative 1-D indices on W",
            2,
            4,
            (g, r, x) ->
                g.node(Op.GATHER, List.of(x, g.int64Vector("i", 3, 0, -1, 1)), a("axis", 3L))),
        c(
            "gather on activations: 2-D indices from Range on H",
            2,
            4,
            (g, r, x) -> {
              String idx =
                  g.node(
                      Op.RANGE,
                      g.int64Initializer("s", new long[] {0}),
                      g.int64Initializer("l", new long[] {4}),
                      g.int64Initializer("d", new long[] {1}));
              String idx2 = g.node(Op.RESHAPE, idx, g.int64Vector("sh", 2, 2));
              return g.node(Op.GATHER, List.of(x, idx2), a("axis", 2L));
            }),
        c(
            "pad constant, positive and negative (crop) pads",
            2,
            5,
            (g, r, x) ->
                g.node(
                    Op.PAD,
                    List.of(
                        x, g.int64Vector("p", 0, 0, 2, -1, 0, 1, -2, 3), g.floatScalar("v", 0.3f)),
                    a("mode", "constant"))),
        c(
            "pad reflect",
            2,
            4,
            (g, r, x) ->
                g.node(
                    Op.PAD,
                    List.of(x, g.int64Vector("p", 0, 0, 2, 1, 0, 0, 1, 3)),
                    a("mode", "reflect"))),
        c(
            "pad edge",
            2,
            4,
            (g, r, x) ->
                g.node(
                    Op.PAD,
                    List.of(x, g.int64Vector("p", 0, 0, 1, 2, 0, 0, 3, 0)),
                    a("mode", "edge"))),
        c(
            "expand GAP(x) back to (N,C,H,W) times x",
            2,
            4,
            (g, r, x) ->
                g.node(
                    Op.MUL,
                    x,
                    g.node(Op.EXPAND, g.node(Op.GLOBAL_AVERAGE_POOL, x), g.node(Op.SHAPE, x)))),
        c(
            "where with a constant mask (both branches depend on x), cast to float",
            2,
            4,
            (g, r, x) -> {
              String mask =
                  g.node(
                      Op.CAST,
                      List.of(
                          g.int64Initializer(
                              "m",
                              new long[] {1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1},
                              4,
                              4)),
                      a("to", Tensors.BOOL));
              String w = g.node(Op.WHERE, mask, x, g.node(Op.MUL, x, x));
              return g.node(Op.CAST, List.of(w), a("to", Tensors.FLOAT));
            }),
        c(
            "torch expand(B,-1,-1) shape plumbing (ConstantOfShape/Mul/Equal/Where)",
            2,
            4,
            (g, r, x) -> {
              String gap = g.node(Op.REDUCE_MEAN, List.of(x), a("axes", l(3), "keepdims", 1L));
              String sh = g.node(Op.SHAPE, x);
              String ones =
                  g.node(
                      Op.CONSTANT_OF_SHAPE,
                      List.of(g.node(Op.SHAPE, sh)),
                      a("value", Tensors.int64Tensor("v", new long[] {1}, 1)));
              String minus = g.node(Op.MUL, ones, g.int64Initializer("m1", new long[] {-1}));
              String target =
                  g.node(
                      Op.CONCAT,
                      List.of(
                          g.node(Op.SLICE, sh, g.int64Vector("s", 0), g.int64Vector("e", 3)),
                          g.int64Vector("w", -1)),
                      a("axis", 0L));
              String eq = g.node(Op.EQUAL, target, minus);
              String fixed = g.node(Op.WHERE, eq, ones, target);
              return g.node(Op.EXPAND, gap, fixed);
            }),
        c("global max pool", 3, 4, (g, r, x) -> g.node(Op.GLOBAL_MAX_POOL, x)),
        c(
            "layer normalization over the last axis",
            3,
            4,
            (g, r, x) ->
                g.node(
                    Op.LAYER_NORMALIZATION,
                    List.of(
                        x,
                        g.floatInitializer("s", randn(r, 4, 1), 4),
                        g.floatInitializer("b", randn(r, 4, 0.2), 4)),
                    a("epsilon", 1e-3f))),
        c(
            "layer normalization over C,H,W (axis 1, no bias)",
            2,
            3,
            (g, r, x) ->
                g.node(
                    Op.LAYER_NORMALIZATION,
                    List.of(x, g.floatInitializer("s", randn(r, 18, 1), 2, 3, 3)),
                    a("axis", 1L))),
        c(
            "resize nearest x2 (torch: asymmetric, floor)",
            2,
            3,
            (g, r, x) ->
                g.node(
                    Op.RESIZE,
                    List.of(x, "", g.floatInitializer("sc", new float[] {1, 1, 2, 2}, 4)),
                    a(
                        "mode",
                        "nearest",
                        "coordinate_transformation_mode",
                        "asymmetric",
                        "nearest_mode",
                        "floor"))),
        c(
            "resize nearest x1.5 / x0.5 (half_pixel, round_prefer_floor)",
            2,
            4,
            (g, r, x) ->
                g.node(
                    Op.RESIZE,
                    List.of(x, "", g.floatInitializer("sc", new float[] {1, 1, 1.5f, 0.5f}, 4)),
                    a("mode", "nearest"))),
        c(
            "resize linear x2 (half_pixel)",
            2,
            3,
            (g, r, x) ->
                g.node(
                    Op.RESIZE,
                    List.of(x, "", g.floatInitializer("sc", new float[] {1, 1, 2, 2}, 4)),
                    a("mode", "linear"))),
        c(
            "resize linear to sizes (align_corners)",
            2,
            4,
            (g, r, x) ->
                g.node(
                    Op.RESIZE,
                    List.of(
                        x,
                        "",
                        "",
                        g.node(
                            Op.CONCAT,
                            List.of(
                                g.node(
                                    Op.SLICE,
                                    g.node(Op.SHAPE, x),
                                    g.int64Vector("s", 0),
                                    g.int64Vector("e", 2)),
                                g.int64Vector("hw", 7, 3)),
                            a("axis", 0L))),
                    a("mode", "linear", "coordinate_transformation_mode", "align_corners"))),
        c(
            "resize linear x0.6 (pytorch_half_pixel)",
            2,
            5,
            (g, r, x) ->
                g.node(
                    Op.RESIZE,
                    List.of(x, "", g.floatInitializer("sc", new float[] {1, 1, 0.6f, 1.4f}, 4)),
                    a("mode", "linear", "coordinate_transformation_mode", "pytorch_half_pixel"))));
  }

  private static Arguments c(String name, int channels, int size, Body body) {
    return Arguments.of(name, channels, size, body);
  }

  static ModelProto model(int channels, int size, Body body, long seed, int features) {
    Random r = new Random(seed);
    GraphBuilder g = new GraphBuilder("op");
    String x = g.imageInput("x", channels, size, size);
    String y = body.apply(g, r, x);
    if (features < 0) {
      g.output(y, Tensors.FLOAT, (Object[]) null);
      return g.build(17);
    }
    return Models.head(g, new Random(seed + 1), y, features, K);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void gradientMatchesFiniteDifferences(String name, int channels, int size, Body body) {
    long[] shape = {2, channels, size, size};
    // probe the op output size, then attach Flatten + Gemm
    float[] x = new float[(int) Tensors.numel(shape)];
    java.util.Arrays.fill(x, 0.5f);
    float[] probe =
        OrtRunner.run(model(channels, size, body, 5, -1), Map.of("x", new OrtRunner.F(x, shape)))
            .values()
            .iterator()
            .next();
    int features = probe.length / 2;
    ModelProto m = model(channels, size, body, 5, features);
    GradCheck.Result r = GradCheck.check(m, LossHead.CE, shape, 21, 1e-3, 5e-3);
    System.out.printf("%-55s rel=%.2e kinks=%d%n", name, r.relErr(), r.kinks());
    if (name.startsWith("conv") || name.startsWith("maxpool") || name.startsWith("gemm")) {
      GradCheck.check(m, LossHead.MARGIN, shape, 22, 1e-3, 5e-3);
    }
  }
}
