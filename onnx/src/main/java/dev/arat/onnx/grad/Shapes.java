package dev.arat.onnx.grad;

import static dev.arat.onnx.GraphIndex.attr;
import static dev.arat.onnx.GraphIndex.floatAttr;
import static dev.arat.onnx.GraphIndex.intAttr;
import static dev.arat.onnx.GraphIndex.intsAttr;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.arat.onnx.OnnxModelException;
import dev.arat.onnx.Tensors;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Static shape inference (and folding of small int64 shape computations) over the forward graph.
 *
 * <p>Dimensions are {@code long}, with {@code -1} for an unknown (symbolic) dimension such as the
 * batch axis. Int64 values of shape tensors are tracked with {@link #UNKNOWN} for unknown entries,
 * so the common {@code Shape -> Gather -> Unsqueeze -> Concat -> Reshape} flatten pattern resolves.
 */
final class Shapes {
  static final long UNKNOWN = Long.MIN_VALUE;

  private final Map<String, long[]> shapes = new HashMap<>();
  private final Map<String, long[]> values = new HashMap<>();
  private final Map<String, float[]> floats = new HashMap<>();

  void putShape(String t, long[] s) {
    if (s != null) {
      shapes.put(t, s);
    }
  }

  long[] shape(String t) {
    return shapes.get(t);
  }

  long[] value(String t) {
    return values.get(t);
  }

  /** Records the (small, int64) value of tensor {@code t}. */
  void putValue(String t, long[] v) {
    values.put(t, v);
  }

  /**
   * The shape of {@code t}, which a gradient rule of node {@code n} needs.
   *
   * @param what what {@code t} is to {@code n}, for the message ("input", "weight"...)
   * @throws OnnxModelException if it is not known
   */
  long[] known(String t, NodeProto n, String what) {
    long[] s = shapes.get(t);
    if (s == null) {
      throw new OnnxModelException(
          "cannot infer the shape of tensor '"
              + t
              + "' ("
              + what
              + " of "
              + n.getOpType()
              + " node '"
              + n.getName()
              + "'), which its gradient needs;"
              + " give the model input fixed non-batch dimensions");
    }
    return s;
  }

  /**
   * The shape (N,C,spatial...) of input {@code t} of node {@code n}, with C and the spatial sizes
   * known.
   *
   * @throws OnnxModelException if it is not known, or of rank below 3
   */
  long[] knownSpatial(String t, NodeProto n) {
    long[] s = known(t, n, "input");
    for (int i = 1; i < s.length; i++) {
      if (s[i] < 0) {
        throw new OnnxModelException(
            "tensor '"
                + t
                + "' (input of "
                + n.getOpType()
                + " node '"
                + n.getName()
                + "') has shape "
                + dimsText(s)
                + "; its gradient needs fixed"
                + " channel and spatial sizes");
      }
    }
    if (s.length < 3) {
      throw new OnnxModelException(
          "tensor '"
              + t
              + "' (input of "
              + n.getOpType()
              + " node '"
              + n.getName()
              + "') has rank "
              + s.length
              + ", expected (N,C,spatial...)");
    }
    return s;
  }

  /**
   * Axis {@code axis} of node {@code n} (negative counts from the end) normalised against {@code
   * rank}.
   *
   * @throws OnnxModelException if it is not in [-rank, rank)
   */
  static int axis(NodeProto n, long axis, int rank) {
    long a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) {
      throw new OnnxModelException(
          n.getOpType()
              + " node '"
              + n.getName()
              + "': axis "
              + axis
              + " is out of range for rank "
              + rank);
    }
    return (int) a;
  }

  /** The error for a node that no valid model has (a rank, axis or index list that cannot be). */
  static OnnxModelException corrupt(NodeProto n, String why) {
    return new OnnxModelException(
        n.getOpType() + " node '" + n.getName() + "': " + why + " (the model is corrupt)");
  }

  /** Dimensions as text for messages, e.g. {@code (?,3,32,32)} ({@code ?} for unknown). */
  static String dimsText(long[] s) {
    StringBuilder sb = new StringBuilder("(");
    for (int i = 0; i < s.length; i++) {
      sb.append(i > 0 ? "," : "").append(s[i] < 0 ? "?" : Long.toString(s[i]));
    }
    return sb.append(')').toString();
  }

  /** The values of a small constant float32 tensor (initializer or Constant), or null. */
  float[] floatValue(String t) {
    return floats.get(t);
  }

  void addInitializer(TensorProto t) {
    putShape(t.getName(), Tensors.dims(t));
    if ((t.getDataType() == Tensors.INT64 || t.getDataType() == TensorProto.DataType.INT32_VALUE)
        && Tensors.numel(Tensors.dims(t)) <= 64) {
      values.put(t.getName(), Tensors.toLongArray(t));
    }
    if (t.getDataType() == Tensors.FLOAT && Tensors.numel(Tensors.dims(t)) <= 64) {
      floats.put(t.getName(), Tensors.toFloatArray(t));
    }
  }

  // ------------------------------------------------------------------------------- inference

  static long[] broadcast(long[] a, long[] b) {
    if (a == null || b == null) {
      return null;
    }
    int r = Math.max(a.length, b.length);
    long[] o = new long[r];
    for (int i = 0; i < r; i++) {
      int ia = i - (r - a.length);
      int ib = i - (r - b.length);
      long da = ia >= 0 ? a[ia] : 1;
      long db = ib >= 0 ? b[ib] : 1;
      if (da == 1) {
        o[i] = db;
      } else if (db == 1) {
        o[i] = da;
      } else if (da == -1) {
        o[i] = db;
      } else {
        o[i] = da; // db == -1, or equal
      }
    }
    return o;
  }

  /** Infers the outputs of one node from the shapes (and values) of its inputs, when it can. */
  void infer(NodeProto n) {
    List<String> in = n.getInputList();
    String y = n.getOutputCount() > 0 ? n.getOutput(0) : "";
    long[] x = in.isEmpty() ? null : shapes.get(in.get(0));
    switch (n.getOpType()) {
      case "Identity",
          "Dropout",
          "Relu",
          "LeakyRelu",
          "Sigmoid",
          "Tanh",
          "Softmax",
          "LogSoftmax",
          "BatchNormalization",
          "Neg",
          "Sqrt",
          "Exp",
          "Log",
          "Abs",
          "Clip",
          "Reciprocal",
          "Not",
          "PRelu",
          "HardSigmoid",
          "HardSwish",
          "Erf",
          "Gelu",
          "Sign",
          "Floor",
          "Ceil",
          "Round",
          "Elu",
          "Softplus",
          "Selu",
          "IsNaN",
          "IsInf",
          "QuantizeLinear",
          "DequantizeLinear" -> {
        putShape(y, x);
        if (n.getOpType().equals("Identity") && values.containsKey(in.get(0))) {
          values.put(y, values.get(in.get(0)));
        }
      }
      case "Cast" -> {
        putShape(y, x);
        if (values.containsKey(in.get(0))) {
          values.put(y, values.get(in.get(0)));
        }
      }
      case "Add",
          "Sub",
          "Mul",
          "Div",
          "Equal",
          "Greater",
          "Less",
          "Pow",
          "GreaterOrEqual",
          "LessOrEqual",
          "And",
          "Or" -> {
        putShape(y, broadcast(x, shapes.get(in.get(1))));
        long[] va = values.get(in.get(0));
        long[] vb = values.get(in.get(1));
        if (va != null
            && vb != null
            && (va.length == vb.length || va.length == 1 || vb.length == 1)) {
          long[] o = new long[Math.max(va.length, vb.length)];
          for (int i = 0; i < o.length; i++) {
            o[i] = fold(n.getOpType(), va[va.length == 1 ? 0 : i], vb[vb.length == 1 ? 0 : i]);
          }
          values.put(y, o);
        }
      }
      case "LayerNormalization" -> {
        putShape(y, x);
        if (x != null) {
          int a = axis(n, intAttr(n, "axis", -1), x.length);
          long[] st = x.clone();
          Arrays.fill(st, a, st.length, 1);
          for (int i = 1; i < n.getOutputCount(); i++) {
            putShape(n.getOutput(i), st);
          }
        }
      }
      case "Sum", "Max", "Min", "Mean" -> {
        long[] s = x;
        for (int i = 1; i < in.size(); i++) {
          s = broadcast(s, shapes.get(in.get(i)));
        }
        putShape(y, s);
      }
      case "Where" -> {
        putShape(y, broadcast(broadcast(x, shapes.get(in.get(1))), shapes.get(in.get(2))));
        long[] c = values.get(in.get(0));
        long[] va = values.get(in.get(1));
        long[] vb = values.get(in.get(2));
        if (c != null && va != null && vb != null) {
          int len = Math.max(c.length, Math.max(va.length, vb.length));
          if ((c.length == len || c.length == 1)
              && (va.length == len || va.length == 1)
              && (vb.length == len || vb.length == 1)) {
            long[] o = new long[len];
            for (int i = 0; i < len; i++) {
              long ci = c[c.length == 1 ? 0 : i];
              o[i] =
                  ci == UNKNOWN
                      ? UNKNOWN
                      : ci != 0 ? va[va.length == 1 ? 0 : i] : vb[vb.length == 1 ? 0 : i];
            }
            values.put(y, o);
          }
        }
      }
      case "Conv" -> {
        long[] w = shapes.get(in.get(1));
        if (x != null && w != null) {
          if (x.length < 3 || w.length != x.length) {
            throw new OnnxModelException(
                "node '"
                    + n.getName()
                    + "' (Conv): input of shape "
                    + Arrays.toString(x)
                    + " and weight of shape "
                    + Arrays.toString(w)
                    + "; expected (N,C,spatial...) and a weight of the same rank");
          }
          long group = intAttr(n, "group", 1);
          if (group < 1
              || (w[0] >= 0 && w[0] % group != 0)
              || (x[1] >= 0 && w[1] >= 0 && x[1] != w[1] * group)) {
            throw corrupt(
                n,
                "input of shape "
                    + dimsText(x)
                    + ", weight of shape "
                    + dimsText(w)
                    + " and group "
                    + group
                    + " do not match (the input channels must"
                    + " be group x the weight's axis 1, the output channels a multiple of group)");
          }
          long[] o = x.clone();
          o[1] = w[0];
          long[] sp = Arrays.copyOfRange(x, 2, x.length);
          if (Arrays.stream(sp).allMatch(d -> d >= 0)) {
            long[] k = intsAttr(n, "kernel_shape");
            if (k == null) {
              k = Arrays.copyOfRange(w, 2, w.length);
            }
            Window win = Window.of(n, sp, k, false);
            System.arraycopy(win.out(), 0, o, 2, sp.length);
          } else {
            Arrays.fill(o, 2, o.length, -1);
          }
          putShape(y, o);
        }
      }
      case "MaxPool", "AveragePool" -> {
        if (x != null) {
          if (x.length < 3) {
            throw corrupt(n, "input of rank " + x.length + "; expected (N,C,spatial...)");
          }
          long[] o = x.clone();
          long[] sp = Arrays.copyOfRange(x, 2, x.length);
          if (Arrays.stream(sp).allMatch(d -> d >= 0)) {
            Window win =
                Window.of(n, sp, intsAttr(n, "kernel_shape"), intAttr(n, "ceil_mode", 0) != 0);
            System.arraycopy(win.out(), 0, o, 2, sp.length);
          } else {
            Arrays.fill(o, 2, o.length, -1);
          }
          putShape(y, o);
          if (n.getOutputCount() > 1) {
            putShape(n.getOutput(1), o);
          }
        }
      }
      case "GlobalAveragePool", "GlobalMaxPool" -> {
        if (x != null) {
          if (x.length < 3) {
            throw corrupt(n, "input of rank " + x.length + "; expected (N,C,spatial...)");
          }
          long[] o = x.clone();
          Arrays.fill(o, 2, o.length, 1);
          putShape(y, o);
        }
      }
      case "Gemm" -> {
        long[] a = x;
        long[] b = shapes.get(in.get(1));
        if ((a != null && a.length != 2) || (b != null && b.length != 2)) {
          throw corrupt(
              n,
              "operands of shapes "
                  + (a == null ? "?" : dimsText(a))
                  + " and "
                  + (b == null ? "?" : dimsText(b))
                  + "; Gemm takes two matrices");
        }
        if (a != null && b != null) {
          long ka = intAttr(n, "transA", 0) != 0 ? a[0] : a[1];
          long kb = intAttr(n, "transB", 0) != 0 ? b[1] : b[0];
          if (ka >= 0 && kb >= 0 && ka != kb) {
            throw corrupt(
                n,
                "operands of shapes "
                    + dimsText(a)
                    + " and "
                    + dimsText(b)
                    + " (transA "
                    + intAttr(n, "transA", 0)
                    + ", transB "
                    + intAttr(n, "transB", 0)
                    + ") do not have a common inner size");
          }
          long m = intAttr(n, "transA", 0) != 0 ? a[1] : a[0];
          long k = intAttr(n, "transB", 0) != 0 ? b[0] : b[1];
          putShape(y, new long[] {m, k});
        }
      }
      case "MatMul" -> {
        long[] a = x;
        long[] b = shapes.get(in.get(1));
        if (a != null && b != null && a.length >= 2 && b.length >= 2) {
          long ka = a[a.length - 1];
          long kb = b[b.length - 2];
          if (ka >= 0 && kb >= 0 && ka != kb) {
            throw corrupt(
                n,
                "operands of shapes "
                    + dimsText(a)
                    + " and "
                    + dimsText(b)
                    + " do not have a common inner size");
          }
          long[] batch = broadcast(Arrays.copyOf(a, a.length - 2), Arrays.copyOf(b, b.length - 2));
          long[] o = Arrays.copyOf(batch, batch.length + 2);
          o[batch.length] = a[a.length - 2];
          o[batch.length + 1] = b[b.length - 1];
          putShape(y, o);
        }
      }
      case "Size" -> putShape(y, new long[0]);
      case "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd" -> {
        if (x != null) {
          long[] axes = reduceAxes(n, x.length);
          if (axes != null) {
            boolean keep = intAttr(n, "keepdims", 1) != 0;
            java.util.List<Long> o = new java.util.ArrayList<>();
            for (int i = 0; i < x.length; i++) {
              final int ii = i;
              boolean reduced = Arrays.stream(axes).anyMatch(a -> a == ii);
              if (!reduced) {
                o.add(x[i]);
              } else if (keep) {
                o.add(1L);
              }
            }
            putShape(y, o.stream().mapToLong(Long::longValue).toArray());
          }
        }
      }
      case "Constant" -> {
        AttributeProto a = attr(n, "value");
        if (a != null) {
          addInitializer(a.getT().toBuilder().setName(y).build());
        } else if (attr(n, "value_ints") != null) {
          long[] v = intsAttr(n, "value_ints");
          values.put(y, v);
          putShape(y, new long[] {v.length});
        } else if (attr(n, "value_int") != null) {
          values.put(y, new long[] {intAttr(n, "value_int", 0)});
          putShape(y, new long[0]);
        } else if (attr(n, "value_float") != null) {
          putShape(y, new long[0]);
          floats.put(y, new float[] {floatAttr(n, "value_float", 0f)});
        } else if (attr(n, "value_floats") != null) {
          AttributeProto fa = attr(n, "value_floats");
          putShape(y, new long[] {fa.getFloatsCount()});
          float[] f = new float[fa.getFloatsCount()];
          for (int i = 0; i < f.length; i++) {
            f[i] = fa.getFloats(i);
          }
          floats.put(y, f);
        }
      }
      default -> ShapeOpInference.infer(this, n);
    }
  }

  private static long fold(String op, long a, long b) {
    if (a == UNKNOWN || b == UNKNOWN) {
      return UNKNOWN;
    }
    return switch (op) {
      case "Add" -> a + b;
      case "Sub" -> a - b;
      case "Mul" -> a * b;
      case "Div" -> b == 0 ? UNKNOWN : a / b;
      case "Equal" -> a == b ? 1 : 0;
      case "Greater" -> a > b ? 1 : 0;
      case "Less" -> a < b ? 1 : 0;
      case "GreaterOrEqual" -> a >= b ? 1 : 0;
      case "LessOrEqual" -> a <= b ? 1 : 0;
      case "And" -> a != 0 && b != 0 ? 1 : 0;
      case "Or" -> a != 0 || b != 0 ? 1 : 0;
      default -> UNKNOWN;
    };
  }

  /**
   * The normalised (non-negative, sorted) axes of a Reduce* node, from its axes input (opset 13+
   * ReduceSum, opset 18+ others) or attribute; all axes when none are given; an empty array when
   * the node is a no-op ({@code noop_with_empty_axes}); {@code null} when the axes are not
   * constant.
   */
  long[] reduceAxes(NodeProto n, int rank) {
    long[] axes;
    if (n.getInputCount() > 1 && !n.getInput(1).isEmpty()) {
      axes = values.get(n.getInput(1));
      if (axes == null) {
        return null;
      }
    } else {
      axes = intsAttr(n, "axes");
    }
    if (axes == null || axes.length == 0) {
      if (intAttr(n, "noop_with_empty_axes", 0) != 0) {
        return new long[0];
      }
      axes = new long[rank];
      for (int i = 0; i < rank; i++) {
        axes[i] = i;
      }
    }
    if (Arrays.stream(axes).anyMatch(a -> a == UNKNOWN)) {
      return null;
    }
    for (long a : axes) {
      axis(n, a, rank);
    }
    return Arrays.stream(axes).map(a -> a < 0 ? a + rank : a).sorted().distinct().toArray();
  }
}
