package dev.arat.onnx.grad;

import static dev.arat.onnx.GraphIndex.attr;
import static dev.arat.onnx.GraphIndex.intAttr;
import static dev.arat.onnx.GraphIndex.intsAttr;
import static dev.arat.onnx.grad.Shapes.UNKNOWN;
import static dev.arat.onnx.grad.Shapes.axis;
import static dev.arat.onnx.grad.Shapes.broadcast;
import static dev.arat.onnx.grad.Shapes.corrupt;

import ai.onnx.proto.OnnxMl.AttributeProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.arat.onnx.Tensors;
import java.util.Arrays;
import java.util.List;

/**
 * The {@link Shapes} inference of the shape and indexing ops (Shape, Expand, ConstantOfShape,
 * Range, Slice, Split, Pad, Resize, Flatten, Reshape, Transpose, Gather, Squeeze, Unsqueeze,
 * Concat), with folding of their small int64 values, and the index resolution their gradient rules
 * share (Slice ranges, Split sizes, Pad amounts, Transpose permutations). Invalid ranks, axes and
 * index lists raise {@link dev.arat.onnx.OnnxModelException}.
 */
final class ShapeOpInference {
  private ShapeOpInference() {}

  /** Infers the outputs of node {@code n} if it is a shape or indexing op; else does nothing. */
  static void infer(Shapes sh, NodeProto n) {
    List<String> in = n.getInputList();
    String y = n.getOutputCount() > 0 ? n.getOutput(0) : "";
    long[] x = in.isEmpty() ? null : sh.shape(in.get(0));
    switch (n.getOpType()) {
      case "Expand" -> {
        long[] target = sh.value(in.get(1));
        long[] ts = sh.shape(in.get(1));
        if (target == null && ts != null && ts.length == 1 && ts[0] >= 0) {
          target = new long[(int) ts[0]];
          Arrays.fill(target, UNKNOWN);
        }
        if (target != null && x != null) {
          long[] t = target.clone();
          for (int i = 0; i < t.length; i++) {
            t[i] = t[i] == UNKNOWN ? -1 : t[i];
          }
          sh.putShape(y, broadcast(x, t));
        }
      }
      case "ConstantOfShape" -> {
        long[] v = sh.value(in.get(0));
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
          sh.putShape(y, o);
          AttributeProto a = attr(n, "value");
          TensorProto t = a == null ? null : a.getT();
          if (known
              && Tensors.numel(o) <= 64
              && t != null
              && (t.getDataType() == Tensors.INT64
                  || t.getDataType() == TensorProto.DataType.INT32_VALUE)) {
            if (Tensors.numel(Tensors.dims(t)) != 1) {
              throw corrupt(n, "its value must hold one element");
            }
            long[] fill = new long[(int) Tensors.numel(o)];
            Arrays.fill(fill, Tensors.toLongArray(t)[0]);
            sh.putValue(y, fill);
          }
        }
      }
      case "Range" -> {
        long[] s0 = sh.value(in.get(0));
        long[] l0 = sh.value(in.get(1));
        long[] d0 = sh.value(in.get(2));
        for (long[] v : new long[][] {s0, l0, d0}) {
          if (v != null && v.length != 1) {
            throw corrupt(n, "start, limit and delta must be scalars");
          }
        }
        if (s0 != null
            && l0 != null
            && d0 != null
            && s0[0] != UNKNOWN
            && l0[0] != UNKNOWN
            && d0[0] != UNKNOWN
            && d0[0] != 0) {
          long count = Math.max(0, (long) Math.ceil((double) (l0[0] - s0[0]) / d0[0]));
          sh.putShape(y, new long[] {count});
          if (count <= 64) {
            long[] o = new long[(int) count];
            for (int i = 0; i < count; i++) {
              o[i] = s0[0] + i * d0[0];
            }
            sh.putValue(y, o);
          }
        } else {
          sh.putShape(y, new long[] {-1});
        }
      }
      case "Slice" -> inferSlice(sh, n, x);
      case "Split" -> inferSplit(sh, n, x);
      case "Pad" -> {
        long[] pads = sh.value(in.get(1));
        if (x != null && pads != null) {
          long[] axes = in.size() > 3 && !in.get(3).isEmpty() ? sh.value(in.get(3)) : null;
          long[][] pe = padsPerAxis(n, pads, axes, x.length);
          if (pe != null) {
            long[] o = x.clone();
            for (int i = 0; i < o.length; i++) {
              o[i] = o[i] < 0 ? -1 : o[i] + pe[0][i] + pe[1][i];
              if (x[i] >= 0 && o[i] < 0) {
                throw corrupt(n, "its pads make axis " + i + " of size " + x[i] + " negative");
              }
            }
            sh.putShape(y, o);
          }
        }
      }
      case "Resize" -> {
        long[] o = resizeOut(sh, n, x);
        sh.putShape(y, o);
      }
      case "Flatten" -> {
        if (x != null) {
          long axis = intAttr(n, "axis", 1);
          if (axis < 0) {
            axis += x.length;
          }
          if (axis < 0 || axis > x.length) {
            throw corrupt(
                n, "axis " + intAttr(n, "axis", 1) + " is out of range for rank " + x.length);
          }
          sh.putShape(y, new long[] {prod(x, 0, (int) axis), prod(x, (int) axis, x.length)});
        }
      }
      case "Reshape" -> {
        sh.putShape(y, reshape(n, x, sh.value(in.get(1)), intAttr(n, "allowzero", 0) != 0));
        long[] v = sh.value(in.get(0));
        long[] ys = sh.shape(y);
        if (v != null && ys != null) {
          sh.putValue(y, v);
          if (ys.length == 1 && ys[0] < 0) {
            sh.putShape(y, new long[] {v.length});
          }
        }
      }
      case "Transpose" -> {
        if (x != null) {
          long[] perm = perm(n, x.length);
          long[] o = new long[x.length];
          for (int i = 0; i < o.length; i++) {
            o[i] = x[(int) perm[i]];
          }
          sh.putShape(y, o);
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
          sh.putValue(y, v);
          sh.putShape(y, new long[] {v.length});
        } else {
          sh.putShape(y, new long[] {-1});
        }
      }
      case "Gather" -> {
        long[] v = sh.value(in.get(0));
        long[] idx = sh.value(in.get(1));
        long[] is = sh.shape(in.get(1));
        if (v != null
            && idx != null
            && is != null
            && intAttr(n, "axis", 0) == 0
            && x != null
            && x.length == 1) {
          long[] o = new long[idx.length];
          for (int i = 0; i < idx.length; i++) {
            long j = idx[i] < 0 ? idx[i] + v.length : idx[i];
            o[i] = j >= 0 && j < v.length ? v[(int) j] : UNKNOWN;
          }
          sh.putValue(y, o);
          sh.putShape(y, is);
        } else if (x != null && is != null) {
          int a = axis(n, intAttr(n, "axis", 0), x.length);
          long[] o = new long[x.length - 1 + is.length];
          System.arraycopy(x, 0, o, 0, a);
          System.arraycopy(is, 0, o, a, is.length);
          System.arraycopy(x, a + 1, o, a + is.length, x.length - a - 1);
          sh.putShape(y, o);
        }
      }
      case "Unsqueeze", "Squeeze" -> {
        long[] axes = in.size() > 1 ? sh.value(in.get(1)) : intsAttr(n, "axes");
        if (sh.value(in.get(0)) != null) {
          sh.putValue(y, sh.value(in.get(0)));
        }
        if (x != null) {
          sh.putShape(y, squeezeShape(n, x, axes, n.getOpType().equals("Unsqueeze")));
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
            long[] s = sh.shape(in.get(i));
            if (s == null || s.length != o.length) {
              return;
            }
            if (i > 0) {
              o[ax] = o[ax] < 0 || s[ax] < 0 ? -1 : o[ax] + s[ax];
            }
            long[] v = sh.value(in.get(i));
            if (v == null) {
              allValues = false;
            } else if (allValues) {
              long[] nv = Arrays.copyOf(vals, vals.length + v.length);
              System.arraycopy(v, 0, nv, vals.length, v.length);
              vals = nv;
            }
          }
          sh.putShape(y, o);
          if (allValues) {
            sh.putValue(y, vals);
          }
        }
      }
      default -> {
        // not a shape op: leave the outputs without shape
      }
    }
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
  static List<AxisSlice> slices(Shapes sh, NodeProto n, long[] x) {
    List<String> in = n.getInputList();
    long[] starts = sh.value(in.get(1));
    long[] ends = sh.value(in.get(2));
    if (x == null || starts == null || ends == null) {
      return null;
    }
    long[] axes = in.size() > 3 && !in.get(3).isEmpty() ? sh.value(in.get(3)) : null;
    long[] steps = in.size() > 4 && !in.get(4).isEmpty() ? sh.value(in.get(4)) : null;
    if ((in.size() > 3 && !in.get(3).isEmpty() && axes == null)
        || (in.size() > 4 && !in.get(4).isEmpty() && steps == null)) {
      return null;
    }
    if (ends.length != starts.length
        || (axes != null && axes.length != starts.length)
        || (steps != null && steps.length != starts.length)
        || (axes == null && starts.length > x.length)) {
      throw corrupt(
          n,
          "starts, ends, axes and steps of lengths "
              + starts.length
              + ", "
              + ends.length
              + ", "
              + (axes == null ? "-" : axes.length)
              + " and "
              + (steps == null ? "-" : steps.length)
              + " (for an input of rank "
              + x.length
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

  private static void inferSlice(Shapes sh, NodeProto n, long[] x) {
    String y = n.getOutput(0);
    long[] v = sh.value(n.getInput(0));
    if (x != null && x.length == 1 && v != null) {
      long[] xv = {v.length};
      List<AxisSlice> sl = slices(sh, n, xv);
      if (sl != null && sl.size() == 1) {
        AxisSlice a = sl.get(0);
        long[] o = new long[(int) a.count()];
        for (int i = 0; i < o.length; i++) {
          o[i] = v[(int) (a.start() + i * a.step())];
        }
        sh.putValue(y, o);
        sh.putShape(y, new long[] {o.length});
        return;
      }
    }
    if (x == null) {
      return;
    }
    long[] o = x.clone();
    List<AxisSlice> sl = slices(sh, n, x);
    if (sl != null) {
      for (AxisSlice a : sl) {
        o[a.axis()] = a.count();
      }
      sh.putShape(y, o);
      return;
    }
    long[] axes =
        n.getInputCount() > 3 && !n.getInput(3).isEmpty() ? sh.value(n.getInput(3)) : null;
    if (axes != null && Arrays.stream(axes).noneMatch(a -> a == UNKNOWN)) {
      for (long a : axes) {
        o[axis(n, a, x.length)] = -1;
      }
      sh.putShape(y, o);
    }
  }

  /** The sizes of a Split node's outputs along its axis, or null if unknown. */
  static long[] splitSizes(Shapes sh, NodeProto n, long[] x) {
    if (x == null) {
      return null;
    }
    int a = axis(n, intAttr(n, "axis", 0), x.length);
    if (n.getInputCount() > 1 && !n.getInput(1).isEmpty()) {
      return sh.value(n.getInput(1));
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

  private static void inferSplit(Shapes sh, NodeProto n, long[] x) {
    long[] sizes = splitSizes(sh, n, x);
    if (x == null || sizes == null || sizes.length != n.getOutputCount()) {
      return;
    }
    int a = axis(n, intAttr(n, "axis", 0), x.length);
    for (int i = 0; i < sizes.length; i++) {
      long[] o = x.clone();
      o[a] = sizes[i];
      sh.putShape(n.getOutput(i), o);
    }
  }

  /**
   * The output shape of a Resize node (from its sizes, or floor(in * scale)), or null if the input
   * shape or the scales/sizes are unknown.
   */
  static long[] resizeOut(Shapes sh, NodeProto n, long[] x) {
    if (x == null) {
      return null;
    }
    List<String> in = n.getInputList();
    long[] sizes = in.size() > 3 && !in.get(3).isEmpty() ? sh.value(in.get(3)) : null;
    float[] scales = in.size() > 2 && !in.get(2).isEmpty() ? sh.floatValue(in.get(2)) : null;
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
        throw corrupt(
            n,
            "perm "
                + Arrays.toString(p)
                + " is not a permutation of the "
                + rank
                + " axes of its input");
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
    return java.util.stream.IntStream.range(0, x.length)
        .filter(i -> !drop[i])
        .mapToLong(i -> x[i])
        .toArray();
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
      throw corrupt(
          n,
          "target shape "
              + Arrays.toString(target)
              + " has a size below -1 or"
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
