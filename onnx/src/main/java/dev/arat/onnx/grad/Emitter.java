package dev.arat.onnx.grad;

import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.Op;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Emits the nodes of one gradient graph into a {@link GraphBuilder}, with one cache of the small
 * constants (float scalars, int64 vectors) so that each is an initializer only once. Shared by the
 * gradient rules and the {@link LossHeads}.
 */
final class Emitter {
  private final GraphBuilder b;
  private final Map<String, String> constants = new HashMap<>();

  Emitter(GraphBuilder b) {
    this.b = b;
  }

  /** The builder the nodes go to. */
  GraphBuilder builder() {
    return b;
  }

  /** A node with attributes; returns its (single) output's name. */
  String op(Op op, Map<String, ?> attrs, String... inputs) {
    return b.node(op, Arrays.asList(inputs), attrs);
  }

  /** A node without attributes; returns its (single) output's name. */
  String op(Op op, String... inputs) {
    return b.node(op, inputs);
  }

  /** A float32 scalar constant, made once per value. */
  String fconst(float v) {
    return cached(
        "f" + Float.floatToIntBits(v),
        () -> b.floatScalar("c_" + (v == (long) v ? Long.toString((long) v) : "f"), v));
  }

  /** An int64 vector constant (axes, shapes), made once per value. */
  String ivec(long... v) {
    return cached("i" + Arrays.toString(v), () -> b.int64Vector("axes", v));
  }

  /** The constant cached under {@code key}, made by {@code make} on first use. */
  String cached(String key, Supplier<String> make) {
    return constants.computeIfAbsent(key, k -> make.get());
  }
}
