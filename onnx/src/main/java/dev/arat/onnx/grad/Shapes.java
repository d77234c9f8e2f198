package dev.arat.onnx.grad;

import static dev.arat.onnx.GraphIndex.attr;
import static dev.arat.onnx.GraphIndex.floatAttr;
import static dev.arat.onnx.GraphIndex.intAttr;
import static dev.arat.onnx.GraphIndex.intsAttr;
import static dev.arat.onnx.GraphIndex.stringAttr;

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

  /**
   * The shape of {@code t}, which a gradient rule of node {@code n} needs.
   *
   * @param what what {@code t} is to {@code n}, for the message ("input", "weight"...)
   * @throws OnnxModelException if it is not known
   */
  long[] known(String t, NodeProto n, String what) {
    long[] s = shapes.get(t);
    if (s == null) {
      throw new OnnxModelException("cannot infer the shape of tensor '" + t + "' (" + what
          + " of " + n.getOpType() + " node '" + n.getName() + "'), which its gradient needs;"
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
        throw new OnnxModelException("tensor '" + t + "' (input of " + n.getOpType() + " node '"
            + n.getName() + "') has shape " + dimsText(s) + "; its gradient needs fixed"
            + " channel and spatial sizes");
      }
    }
    if (s.length < 3) {
      throw new OnnxModelException("tensor '" + t + "' (input of " + n.getOpType() + " node '"
          + n.getName() + "') has rank " + s.length + ", expected (N,C,spatial...)");
    }
    return s;
  }

  /**
   * Axis {@code axis} of node {@code n} (negative counts from the end) normalised against
   * {@code rank}.
   *
   * @throws OnnxModelException if it is not in [-rank, rank)
   */
  static int axis(NodeProto n, long axis, int rank) {
    long a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) {
      throw new OnnxModelException(n.getOpType() + " node '" + n.getName() + "': axis " + axis
          + " is out of range for rank " + rank);
    }
    return (int) a;
  }

  /** The error for a node that no valid model has (a rank, axis or index list that cannot be). */
  static OnnxModelException corrupt(NodeProto n, String why) {
    return new OnnxModelException(n.getOpType() + " node '" + n.getName() + "': " + why
        + " (the model is corrupt)");
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

  // ------------------------------------------------------------------------- sliding windows

  /**
   * The geometry of a convolution or pooling window along the spatial axes: pads at the start and
   * end of each axis (explicit, after resolving auto_pad), kernel, strides, dilations and the output
   * size.
   */
  record Window(long[] in, long[] kernel, long[] strides, long[] dilations, long[] padBegin,
      long[] padEnd, long[] out) {
    /** The explicit ONNX pads attribute [b1, b2, ..., e1, e2, ...]. */
    long[] pads() {
      long[] p = new long[2 * in.length];
      for (int i = 0; i < in.length; i++) {
        p[i] = padBegin[i];
        p[i + in.length] = padEnd[i];
      }
      return p;
    }

    /** The ConvTranspose output_padding that makes the adjoint return exactly {@code in}. */
    long[] outputPadding() {
      long[] r = new long[in.length];
      for (int i = 0; i < in.length; i++) {
        long dk = (kernel[i] - 1) * dilations[i] + 1;
        r[i] = in[i] + padBegin[i] + padEnd[i] - dk - (out[i] - 1) * strides[i];
      }
      return r;
    }
  }

  /**
   * Resolves a window from a node's attributes.
   *
   * @param in spatial input sizes, all known
   * @param kernel kernel sizes
   * @param ceil whether ceil_mode is on (pools only)
   */
  static Window window(NodeProto n, long[] in, long[] kernel, boolean ceil) {
    int r = in.length;
    if (kernel == null) {
      throw new OnnxModelException("node '" + n.getName() + "' (" + n.getOpType()
          + ") has no kernel_shape");
    }
    long[] strides = orOnes(intsAttr(n, "strides"), r);
    long[] dil = orOnes(intsAttr(n, "dilations"), r);
    if (kernel.length != r || Arrays.stream(strides).anyMatch(v -> v <= 0)
        || Arrays.stream(dil).anyMatch(v -> v <= 0) || Arrays.stream(kernel).anyMatch(v -> v <= 0)) {
      throw new OnnxModelException("node '" + n.getName() + "' (" + n.getOpType() + "): kernel "
          + Arrays.toString(kernel) + ", strides " + Arrays.toString(strides) + " and dilations "
          + Arrays.toString(dil) + " must be positive, one per spatial axis (" + r + ")");
    }
    long[] pads = intsAttr(n, "pads");
    String autoPad = stringAttr(n, "auto_pad", "NOTSET");
    long[] pb = new long[r];
    long[] pe = new long[r];
    long[] out = new long[r];
    for (int i = 0; i < r; i++) {
      long dk = (kernel[i] - 1) * dil[i] + 1;
      switch (autoPad) {
        case "NOTSET", "" -> {
          if (pads != null && pads.length == 2 * r) {
            pb[i] = pads[i];
            pe[i] = pads[i + r];
          }
          long span = in[i] + pb[i] + pe[i] - dk;
          if (ceil) {
            out[i] = Math.floorDiv(span + strides[i] - 1, strides[i]) + 1;
            if ((out[i] - 1) * strides[i] >= in[i] + pb[i]) {
              out[i]--; // the last window must start inside the input or the begin pad
            }
          } else {
            out[i] = Math.floorDiv(span, strides[i]) + 1;
          }
        }
        case "VALID" -> out[i] = Math.floorDiv(in[i] - dk, strides[i]) + 1;
        case "SAME_UPPER", "SAME_LOWER" -> {
          out[i] = (in[i] + strides[i] - 1) / strides[i];
          long total = Math.max(0, (out[i] - 1) * strides[i] + dk - in[i]);
          if (autoPad.equals("SAME_UPPER")) {
            pb[i] = total / 2;
            pe[i] = total - pb[i];
          } else {
            pe[i] = total / 2;
            pb[i] = total - pe[i];
          }
        }
        default -> throw new OnnxModelException("node '" + n.getName() + "' (" + n.getOpType()
            + "): unknown auto_pad '" + autoPad + "'");
      }
      if (out[i] <= 0) {
        throw new OnnxModelException("node '" + n.getName() + "' (" + n.getOpType()
            + "): window larger than its input along spatial axis " + i);
      }
    }
    return new Window(in, kernel, strides, dil, pb, pe, out);
  }

  private static long[] orOnes(long[] v, int r) {
    if (v != null && v.length == r) {
      return v;
    }
    long[] o = new long[r];
    Arrays.fill(o, 1);
    return o;
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
      case "Identity", "Dropout", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
          "BatchNormalization", "Neg", "Sqrt", "Exp", "Log", "Abs", "Clip", "Reciprocal", "Not",
          "PRelu", "HardSigmoid", "HardSwish", "Erf", "Gelu", "Sign", "Floor", "Ceil", "Round",
          "Elu", "Softplus", "Selu", "IsNaN", "IsInf", "QuantizeLinear", "DequantizeLinear" -> {
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
      case "Add", "Sub", "Mul", "Div", "Equal", "Greater", "Less", "Pow", "GreaterOrEqual",
          "LessOrEqual", "And", "Or" -> {
        putShape(y, broadcast(x, shapes.get(in.get(1))));
        long[] va = values.get(in.get(0));
        long[] vb = values.get(in.get(1));
        if (va != null && vb != null && (va.length == vb.length || va.length == 1
            || vb.length == 1)) {
          long[] o = new long[Math.max(va.length, vb.length)];
          for (int i = 0; i < o.length; i++) {
            o[i] = fold(n.getOpType(), va[va.length == 1 ? 0 : i], vb[vb.length == 1 ? 0 : i]);
          }
          values.put(y, o);
        }
      }
      case "Expand" -> {
        long[] target = values.get(in.get(1));
        long[] ts = shapes.get(in.get(1));
        if (target == null && ts != null && ts.length == 1 && ts[0] >= 0) {
          target = new long[(int) ts[0]];
          Arrays.fill(target, UNKNOWN);
        }
        if (target != null && x != null) {
          long[] t = target.clone();
          for (int i = 0; i < t.length; i++) {
            t[i] = t[i] == UNKNOWN ? -1 : t[i];
          }
          putShape(y, broadcast(x, t));
        }
      }
      case "ConstantOfShape" -> {
        long[] v = values.get(in.get(0));
        if (v != null) {
          long[] o = v.clone();
          boolean known = true;
          for (int i = 0; i < o.length; i++) {
            if (o[i] == UNKNOWN) {
              o[i] = -1;
              known = false;
            } else if (o[i] < 0) {
              throw corrupt(n, "negative size " + o[i] + " in its shape " + Arrays.toString(v));
            }
          }
          putShape(y, o);
          AttributeProto a = attr(n, "value");
          TensorProto t = a == null ? null : a.getT();
          if (known && Tensors.numel(o) <= 64 && t != null && (t.getDataType() == Tensors.INT64
              || t.getDataType() == TensorProto.DataType.INT32_VALUE)) {
            if (Tensors.numel(Tensors.dims(t)) != 1) {
              throw corrupt(n, "its value must hold one element");
            }
            long[] fill = new long[(int) Tensors.numel(o)];
            Arrays.fill(fill, Tensors.toLongArray(t)[0]);
            values.put(y, fill);
          }
        }
      }
      case "Range" -> {
        long[] s0 = values.get(in.get(0));
        long[] l0 = values.get(in.get(1));
        long[] d0 = values.get(in.get(2));
        for (long[] v : new long[][] {s0, l0, d0}) {
          if (v != null && v.length != 1) {
            throw corrupt(n, "start, limit and delta must be scalars");
          }
        }
        if (s0 != null && l0 != null && d0 != null && s0[0] != UNKNOWN && l0[0] != UNKNOWN
            && d0[0] != UNKNOWN && d0[0] != 0) {
          long count = Math.max(0, (long) Math.ceil((double) (l0[0] - s0[0]) / d0[0]));
          putShape(y, new long[] {count});
          if (count <= 64) {
            long[] o = new long[(int) count];
            for (int i = 0; i < count; i++) {
              o[i] = s0[0] + i * d0[0];
            }
            values.put(y, o);
          }
        } else {
          putShape(y, new long[] {-1});
        }
      }
      case "Slice" -> inferSlice(n, x);
      case "Split" -> inferSplit(n, x);
      case "Pad" -> {
        long[] pads = values.get(in.get(1));
        if (x != null && pads != null) {
          long[] axes = in.size() > 3 && !in.get(3).isEmpty() ? values.get(in.get(3)) : null;
          long[][] pe = padsPerAxis(n, pads, axes, x.length);
          if (pe != null) {
            long[] o = x.clone();
            for (int i = 0; i < o.length; i++) {
              o[i] = o[i] < 0 ? -1 : o[i] + pe[0][i] + pe[1][i];
              if (x[i] >= 0 && o[i] < 0) {
                throw corrupt(n, "its pads make axis " + i + " of size " + x[i] + " negative");
              }
            }
            putShape(y, o);
          }
        }
      }
      case "Resize" -> {
        long[] o = resizeOut(n, x);
        putShape(y, o);
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
          if ((c.length == len || c.length == 1) && (va.length == len || va.length == 1)
              && (vb.length == len || vb.length == 1)) {
            long[] o = new long[len];
            for (int i = 0; i < len; i++) {
              long ci = c[c.length == 1 ? 0 : i];
              o[i] = ci == UNKNOWN ? UNKNOWN : ci != 0 ? va[va.length == 1 ? 0 : i]
                  : vb[vb.length == 1 ? 0 : i];
            }
            values.put(y, o);
          }
        }
      }
      case "Conv" -> {
        long[] w = shapes.get(in.get(1));
        if (x != null && w != null) {
          if (x.length < 3 || w.length != x.length) {
            throw new OnnxModelException("node '" + n.getName() + "' (Conv): input of shape "
                + Arrays.toString(x) + " and weight of shape " + Arrays.toString(w)
                + "; expected (N,C,spatial...) and a weight of the same rank");
          }
          long group = intAttr(n, "group", 1);
          if (group < 1 || (w[0] >= 0 && w[0] % group != 0)
              || (x[1] >= 0 && w[1] >= 0 && x[1] != w[1] * group)) {
            throw corrupt(n, "input of shape " + dimsText(x) + ", weight of shape "
                + dimsText(w) + " and group " + group + " do not match (the input channels must"
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
            Window win = window(n, sp, k, false);
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
            Window win = window(n, sp, intsAttr(n, "kernel_shape"),
                intAttr(n, "ceil_mode", 0) != 0);
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
      case "Flatten" -> {
        if (x != null) {
          long axis = intAttr(n, "axis", 1);
          if (axis < 0) {
            axis += x.length;
          }
          if (axis < 0 || axis > x.length) {
            throw corrupt(n, "axis " + intAttr(n, "axis", 1) + " is out of range for rank "
                + x.length);
          }
          putShape(y, new long[] {prod(x, 0, (int) axis), prod(x, (int) axis, x.length)});
        }
      }
      case "Reshape" -> {
        putShape(y, reshape(n, x, values.get(in.get(1)), intAttr(n, "allowzero", 0) != 0));
        long[] v = values.get(in.get(0));
        long[] ys = shapes.get(y);
        if (v != null && ys != null) {
          values.put(y, v);
          if (ys.length == 1 && ys[0] < 0) {
            putShape(y, new long[] {v.length});
          }
        }
      }
      case "Gemm" -> {
        long[] a = x;
        long[] b = shapes.get(in.get(1));
        if ((a != null && a.length != 2) || (b != null && b.length != 2)) {
          throw corrupt(n, "operands of shapes " + (a == null ? "?" : dimsText(a)) + " and "
              + (b == null ? "?" : dimsText(b)) + "; Gemm takes two matrices");
        }
        if (a != null && b != null) {
          long ka = intAttr(n, "transA", 0) != 0 ? a[0] : a[1];
          long kb = intAttr(n, "transB", 0) != 0 ? b[1] : b[0];
          if (ka >= 0 && kb >= 0 && ka != kb) {
            throw corrupt(n, "operands of shapes " + dimsText(a) + " and " + dimsText(b)
                + " (transA " + intAttr(n, "transA", 0) + ", transB " + intAttr(n, "transB", 0)
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
            throw corrupt(n, "operands of shapes " + dimsText(a) + " and " + dimsText(b)
                + " do not have a common inner size");
          }
          long[] batch = broadcast(Arrays.copyOf(a, a.length - 2), Arrays.copyOf(b, b.length - 2));
          long[] o = Arrays.copyOf(batch, batch.length + 2);
          o[batch.length] = a[a.length - 2];
          o[batch.length + 1] = b[b.length - 1];
          putShape(y, o);
        }
      }
      case "Transpose" -> {
        if (x != null) {
          long[] perm = perm(n, x.length);
          long[] o = new long[x.length];
          for (int i = 0; i < o.length; i++) {
            o[i] = x[(int) perm[i]];
          }
          putShape(y, o);
        }
      }
      case "Shape" -> {
        if (x != null) {
          long start = intAttr(n, "start", 0);
          long end = intAttr(n, "end", x.length);
          start = Math.max(0, Math.min(x.length, start < 0 ? start + x.length : start));
          end = Math.max(0, Math.min(x.length, end < 0 ? end + x.length : end));
          long[] v = new long[(int) Math.max(0, end - start)];
          for (int i = 0; i < v.length; i++) {
            long d = x[(int) start + i];
            v[i] = d < 0 ? UNKNOWN : d;
          }
          values.put(y, v);
          putShape(y, new long[] {v.length});
        } else {
          putShape(y, new long[] {-1});
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
      case "Gather" -> {
        long[] v = values.get(in.get(0));
        long[] idx = values.get(in.get(1));
        long[] is = shapes.get(in.get(1));
        if (v != null && idx != null && is != null && intAttr(n, "axis", 0) == 0
            && x != null && x.length == 1) {
          long[] o = new long[idx.length];
          for (int i = 0; i < idx.length; i++) {
            long j = idx[i] < 0 ? idx[i] + v.length : idx[i];
            o[i] = j >= 0 && j < v.length ? v[(int) j] : UNKNOWN;
          }
          values.put(y, o);
          putShape(y, is);
        } else if (x != null && is != null) {
          int a = axis(n, intAttr(n, "axis", 0), x.length);
          long[] o = new long[x.length - 1 + is.length];
          System.arraycopy(x, 0, o, 0, a);
          System.arraycopy(is, 0, o, a, is.length);
          System.arraycopy(x, a + 1, o, a + is.length, x.length - a - 1);
          putShape(y, o);
        }
      }
      case "Unsqueeze", "Squeeze" -> {
        long[] axes = in.size() > 1 ? values.get(in.get(1)) : intsAttr(n, "axes");
        if (values.containsKey(in.get(0))) {
          values.put(y, values.get(in.get(0)));
        }
        if (x != null) {
          putShape(y, squeezeShape(n, x, axes, n.getOpType().equals("Unsqueeze")));
        }
      }
      case "Concat" -> {
        long axis = intAttr(n, "axis", 0);
        long[] first = x;
        if (first != null) {
          int ax = axis(n, axis, first.length);
          long[] o = first.clone();
          boolean allValues = first.length == 1;
          long[] vals = new long[0];
          for (int i = 0; i < in.size(); i++) {
            long[] s = shapes.get(in.get(i));
            if (s == null || s.length != o.length) {
              return;
            }
            if (i > 0) {
              o[ax] = o[ax] < 0 || s[ax] < 0 ? -1 : o[ax] + s[ax];
            }
            long[] v = values.get(in.get(i));
            if (v == null) {
              allValues = false;
            } else if (allValues) {
              long[] nv = Arrays.copyOf(vals, vals.length + v.length);
              System.arraycopy(v, 0, nv, vals.length, v.length);
              vals = nv;
            }
          }
          putShape(y, o);
          if (allValues) {
            values.put(y, vals);
          }
        }
      }
      default -> {
        // unknown: leave the outputs without shape
      }
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
   * Begin and end pads per axis ({@code [0]} begin, {@code [1]} end) of a Pad node's pads values,
   * spread over {@code axes} (opset 18) or all axes; null if malformed.
   */
  static long[][] padsPerAxis(NodeProto n, long[] pads, long[] axes, int rank) {
    long[][] pe = new long[2][rank];
    int m = axes == null ? rank : axes.length;
    if (pads.length != 2 * m) {
      return null;
    }
    for (int i = 0; i < m; i++) {
      if (pads[i] == UNKNOWN || pads[i + m] == UNKNOWN || (axes != null && axes[i] == UNKNOWN)) {
        return null;
      }
      int a = axes == null ? i : axis(n, axes[i], rank);
      pe[0][a] = pads[i];
      pe[1][a] = pads[i + m];
    }
    return pe;
  }

  /** A Slice along one axis resolved against the axis size: first index, step and count. */
  record AxisSlice(int axis, long start, long step, long count) {}

  /**
   * Resolves a Slice node's constant starts/ends/axes/steps against the data shape {@code x}, per
   * the ONNX rules (negative values count from the end, clamping); null if anything needed is
   * unknown.
   */
  List<AxisSlice> slices(NodeProto n, long[] x) {
    List<String> in = n.getInputList();
    long[] starts = values.get(in.get(1));
    long[] ends = values.get(in.get(2));
    if (x == null || starts == null || ends == null) {
      return null;
    }
    long[] axes = in.size() > 3 && !in.get(3).isEmpty() ? values.get(in.get(3)) : null;
    long[] steps = in.size() > 4 && !in.get(4).isEmpty() ? values.get(in.get(4)) : null;
    if ((in.size() > 3 && !in.get(3).isEmpty() && axes == null)
        || (in.size() > 4 && !in.get(4).isEmpty() && steps == null)) {
      return null;
    }
    if (ends.length != starts.length || (axes != null && axes.length != starts.length)
        || (steps != null && steps.length != starts.length)
        || (axes == null && starts.length > x.length)) {
      throw corrupt(n, "starts, ends, axes and steps of lengths " + starts.length + ", "
          + ends.length + ", " + (axes == null ? "-" : axes.length) + " and "
          + (steps == null ? "-" : steps.length) + " (for an input of rank " + x.length
          + "); they must have one entry per sliced axis");
    }
    List<AxisSlice> out = new java.util.ArrayList<>();
    for (int i = 0; i < starts.length; i++) {
      if (axes != null && axes[i] == UNKNOWN) {
        return null;
      }
      int a = axes == null ? i : axis(n, axes[i], x.length);
      long step = steps == null ? 1 : steps[i];
      long d = x[a];
      if (d < 0 || starts[i] == UNKNOWN || ends[i] == UNKNOWN || step == UNKNOWN || step == 0) {
        return null;
      }
      long s = starts[i] < 0 ? Math.max(starts[i], -d) + d : starts[i];
      long e = ends[i] < 0 ? Math.max(ends[i], -d - 1) + d : ends[i];
      long count;
      if (step > 0) {
        s = Math.min(s, d);
        e = Math.min(Math.max(e, 0), d);
        count = e > s ? (e - s + step - 1) / step : 0;
      } else {
        s = Math.min(s, d - 1);
        e = Math.min(Math.max(e, -1), d - 1);
        count = s > e ? (s - e + (-step) - 1) / (-step) : 0;
      }
      out.add(new AxisSlice(a, s, step, count));
    }
    return out;
  }

  private void inferSlice(NodeProto n, long[] x) {
    String y = n.getOutput(0);
    long[] v = values.get(n.getInput(0));
    if (x != null && x.length == 1 && v != null) {
      long[] xv = {v.length};
      List<AxisSlice> sl = slices(n, xv);
      if (sl != null && sl.size() == 1) {
        AxisSlice a = sl.get(0);
        long[] o = new long[(int) a.count()];
        for (int i = 0; i < o.length; i++) {
          o[i] = v[(int) (a.start() + i * a.step())];
        }
        values.put(y, o);
        putShape(y, new long[] {o.length});
        return;
      }
    }
    if (x == null) {
      return;
    }
    long[] o = x.clone();
    List<AxisSlice> sl = slices(n, x);
    if (sl != null) {
      for (AxisSlice a : sl) {
        o[a.axis()] = a.count();
      }
      putShape(y, o);
      return;
    }
    long[] axes = n.getInputCount() > 3 && !n.getInput(3).isEmpty()
        ? values.get(n.getInput(3)) : null;
    if (axes != null && Arrays.stream(axes).noneMatch(a -> a == UNKNOWN)) {
      for (long a : axes) {
        o[axis(n, a, x.length)] = -1;
      }
      putShape(y, o);
    }
  }

  /** The sizes of a Split node's outputs along its axis, or null if unknown. */
  long[] splitSizes(NodeProto n, long[] x) {
    if (x == null) {
      return null;
    }
    int a = axis(n, intAttr(n, "axis", 0), x.length);
    if (n.getInputCount() > 1 && !n.getInput(1).isEmpty()) {
      return values.get(n.getInput(1));
    }
    AttributeProto sa = attr(n, "split");
    if (sa != null && sa.getIntsCount() > 0) {
      return intsAttr(n, "split");
    }
    if (x[a] < 0) {
      return null;
    }
    int k = n.getOutputCount();
    long chunk = (x[a] + k - 1) / k;
    long[] o = new long[k];
    long left = x[a];
    for (int i = 0; i < k; i++) {
      o[i] = Math.min(chunk, left);
      left -= o[i];
    }
    return o;
  }

  private void inferSplit(NodeProto n, long[] x) {
    long[] sizes = splitSizes(n, x);
    if (x == null || sizes == null || sizes.length != n.getOutputCount()) {
      return;
    }
    int a = axis(n, intAttr(n, "axis", 0), x.length);
    for (int i = 0; i < sizes.length; i++) {
      long[] o = x.clone();
      o[a] = sizes[i];
      putShape(n.getOutput(i), o);
    }
  }

  /**
   * The output shape of a Resize node (from its sizes, or floor(in * scale)), or null if the
   * input shape or the scales/sizes are unknown.
   */
  long[] resizeOut(NodeProto n, long[] x) {
    if (x == null) {
      return null;
    }
    List<String> in = n.getInputList();
    long[] sizes = in.size() > 3 && !in.get(3).isEmpty() ? values.get(in.get(3)) : null;
    float[] scales = in.size() > 2 && !in.get(2).isEmpty() ? floats.get(in.get(2)) : null;
    long[] o = x.clone();
    if (sizes != null && sizes.length == x.length) {
      for (int i = 0; i < o.length; i++) {
        o[i] = sizes[i] == UNKNOWN ? -1 : sizes[i];
      }
      return o;
    }
    if (scales != null && scales.length == x.length) {
      for (int i = 0; i < o.length; i++) {
        // float arithmetic, as ONNX Runtime computes it
        o[i] = x[i] < 0 ? -1 : (long) Math.floor((float) x[i] * scales[i]);
      }
      return o;
    }
    return null;
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

  /**
   * The permutation of a Transpose node (reversed axes by default).
   *
   * @throws OnnxModelException if {@code perm} is not a permutation of 0..rank-1
   */
  static long[] perm(NodeProto n, int rank) {
    long[] p = intsAttr(n, "perm");
    if (p == null || p.length == 0) {
      p = new long[rank];
      for (int i = 0; i < rank; i++) {
        p[i] = rank - 1 - i;
      }
    }
    boolean[] seen = new boolean[rank];
    for (long a : p) {
      if (p.length != rank || a < 0 || a >= rank || seen[(int) a]) {
        throw corrupt(n, "perm " + Arrays.toString(p) + " is not a permutation of the "
            + rank + " axes of its input");
      }
      seen[(int) a] = true;
    }
    return p;
  }

  private static long[] squeezeShape(NodeProto n, long[] x, long[] axes, boolean unsqueeze) {
    if (axes != null && Arrays.stream(axes).anyMatch(a -> a == UNKNOWN)) {
      return null;
    }
    if (unsqueeze) {
      if (axes == null) {
        return null;
      }
      int r = x.length + axes.length;
      boolean[] isNew = new boolean[r];
      for (long a : axes) {
        int i = axis(n, a, r);
        if (isNew[i]) {
          throw corrupt(n, "axis " + a + " is given twice");
        }
        isNew[i] = true;
      }
      long[] o = new long[r];
      int j = 0;
      for (int i = 0; i < r; i++) {
        o[i] = isNew[i] ? 1 : x[j++];
      }
      return o;
    }
    boolean[] drop = new boolean[x.length];
    if (axes == null) {
      for (int i = 0; i < x.length; i++) {
        drop[i] = x[i] == 1;
      }
    } else {
      for (long a : axes) {
        drop[axis(n, a, x.length)] = true;
      }
    }
    return java.util.stream.IntStream.range(0, x.length).filter(i -> !drop[i])
        .mapToLong(i -> x[i]).toArray();
  }

  private static long prod(long[] s, int from, int to) {
    long p = 1;
    for (int i = from; i < to; i++) {
      if (s[i] < 0) {
        return -1;
      }
      p *= s[i];
    }
    return p;
  }

  private static long[] reshape(NodeProto n, long[] x, long[] target, boolean allowZero) {
    if (target == null) {
      return null;
    }
    if (Arrays.stream(target).filter(v -> v == -1).count() > 1
        || Arrays.stream(target).anyMatch(v -> v < -1 && v != UNKNOWN)) {
      throw corrupt(n, "target shape " + Arrays.toString(target) + " has a size below -1 or"
          + " more than one -1");
    }
    long[] o = new long[target.length];
    int inferAt = -1;
    for (int i = 0; i < target.length; i++) {
      long v = target[i];
      if (v == UNKNOWN) {
        o[i] = -1;
      } else if (v == 0 && !allowZero) {
        o[i] = x != null && i < x.length ? x[i] : -1;
      } else if (v == -1) {
        inferAt = i;
        o[i] = -1;
      } else {
        o[i] = v;
      }
    }
    if (inferAt >= 0 && x != null) {
      // product of known input dims / product of known output dims; if exactly one unknown dim
      // remains on each side (typically the batch axis) assume they are the same and cancel.
      long inKnown = 1;
      int inUnknown = 0;
      for (long d : x) {
        if (d < 0) {
          inUnknown++;
        } else {
          inKnown *= d;
        }
      }
      long outKnown = 1;
      int outUnknown = 0;
      for (int i = 0; i < o.length; i++) {
        if (i == inferAt) {
          continue;
        }
        if (o[i] < 0) {
          outUnknown++;
        } else {
          outKnown *= o[i];
        }
      }
      if (inUnknown == outUnknown && inUnknown <= 1 && outKnown != 0 && inKnown % outKnown == 0) {
        o[inferAt] = inKnown / outKnown;
      }
    }
    return o;
  }
}
