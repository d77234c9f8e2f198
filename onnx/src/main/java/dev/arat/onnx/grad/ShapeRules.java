package dev.arat.onnx.grad;

import static dev.arat.onnx.GraphIndex.intAttr;
import static dev.arat.onnx.GraphIndex.stringAttr;
import static dev.arat.onnx.grad.GradientRules.unsupportedConfig;

import ai.onnx.proto.OnnxMl.NodeProto;
import dev.arat.onnx.GraphIndex;
import dev.arat.onnx.OnnxModelException;
import dev.arat.onnx.Op;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Gradient rules of the shape and indexing ops: Identity and Dropout (the identity in inference),
 * Flatten/Reshape/Squeeze/Unsqueeze, Transpose, Expand, Concat, Split, Slice, Gather, Pad and
 * Resize. Their index arguments must be constants (see {@link GradientGraphBuilder}).
 */
final class ShapeRules {
  static void register(GradientRules.Table t) {
    t.add(ShapeRules::identity, "Identity", "Dropout");
    t.add(ShapeRules::reshape, "Flatten", "Reshape", "Squeeze", "Unsqueeze");
    t.add(ShapeRules::transpose, "Transpose");
    t.add(ShapeRules::expand, "Expand");
    t.add(ShapeRules::concat, "Concat");
    t.addAllOutputs((run, n, dy) -> split(run, n), "Split");
    t.add(ShapeRules::slice, "Slice");
    t.add(ShapeRules::gather, "Gather");
    t.add(ShapeRules::pad, "Pad");
    t.add(ShapeRules::resize, "Resize");
  }

  private ShapeRules() {}

  static void identity(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    run.addGrad(x, dy);
  }

  static void reshape(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    if (run.dep(x)) {
      run.addGrad(x, run.op(Op.RESHAPE, dy, run.shapeOf(x)));
    }
  }

  static void transpose(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    long[] xs = run.known(x, n, "input");
    long[] p = ShapeOpInference.perm(n, xs.length);
    long[] inv = new long[p.length];
    for (int i = 0; i < p.length; i++) {
      inv[(int) p[i]] = i;
    }
    run.addGrad(x, run.op(Op.TRANSPOSE, Map.of("perm", inv), dy));
  }

  static void expand(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    String y = n.getOutput(0);
    long[] ys = run.shapes().shape(y);
    run.addGrad(x, run.unbroadcast(dy, ys, x, n));
  }

  static void concat(GradientRun run, NodeProto n, String dy) {
    long[] ys = run.known(n.getOutput(0), n, "output");
    int a = Shapes.axis(n, intAttr(n, "axis", 0), ys.length);
    List<String> parts = new ArrayList<>();
    long[] sizes = new long[n.getInputCount()];
    boolean allKnown = true;
    for (int i = 0; i < n.getInputCount(); i++) {
      long[] s = run.shapes().shape(n.getInput(i));
      sizes[i] = s == null ? -1 : s[a];
      allKnown &= sizes[i] >= 0;
      parts.add(run.b().node(Op.SHAPE, List.of(n.getInput(i)), Map.of("start", a, "end", a + 1)));
    }
    String split = allKnown ? run.ivec(sizes) : run.b().node(Op.CONCAT, parts, Map.of("axis", 0));
    List<String> outs =
        run.b().node(Op.SPLIT, List.of(dy, split), Map.of("axis", a), n.getInputCount());
    for (int i = 0; i < n.getInputCount(); i++) {
      if (run.dep(n.getInput(i))) {
        run.addGrad(n.getInput(i), outs.get(i));
      }
    }
  }

  static void split(GradientRun run, NodeProto n) {
    boolean any = false;
    for (String o : n.getOutputList()) {
      any |= !o.isEmpty() && run.hasGrad(o);
    }
    if (!any || !run.dep(n.getInput(0))) {
      return;
    }
    long[] xs = run.known(n.getInput(0), n, "input");
    int a = Shapes.axis(n, intAttr(n, "axis", 0), xs.length);
    List<String> parts = new ArrayList<>();
    for (String o : n.getOutputList()) {
      String g = o.isEmpty() ? null : run.total(o);
      if (g == null) {
        if (o.isEmpty()) {
          throw unsupportedConfig(n, "an omitted output cannot be given a zero gradient");
        }
        g = run.op(Op.CONSTANT_OF_SHAPE, run.op(Op.SHAPE, o));
      }
      parts.add(g);
    }
    run.addGrad(
        n.getInput(0),
        parts.size() == 1 ? parts.get(0) : run.b().node(Op.CONCAT, parts, Map.of("axis", a)));
  }

  static void slice(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    run.requireConstant(n, 1, 2, 3, 4);
    long[] xs = run.known(x, n, "input");
    List<ShapeOpInference.AxisSlice> sl = ShapeOpInference.slices(run.shapes(), n, xs);
    if (sl == null) {
      throw unsupportedConfig(
          n,
          "its starts, ends, axes and steps must be constants and the"
              + " sliced axes of its input must have fixed sizes");
    }
    long[] begin = new long[xs.length];
    long[] end = new long[xs.length];
    String g = dy;
    for (ShapeOpInference.AxisSlice a : sl) {
      if (a.count() == 0) {
        return; // empty slice: no gradient
      }
      long d = xs[a.axis()];
      if (a.step() == 1) {
        begin[a.axis()] = a.start();
        end[a.axis()] = d - a.start() - a.count();
      } else {
        long[] idx = new long[(int) a.count()];
        for (int i = 0; i < idx.length; i++) {
          idx[i] = a.start() + i * a.step();
        }
        g = unselect(run, g, a.axis(), xs.length, idx, d);
      }
    }
    run.addGrad(x, zeroPad(run, g, begin, end));
  }

  static void gather(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    run.requireConstant(n, 1);
    long[] xs = run.known(x, n, "data");
    int a = Shapes.axis(n, intAttr(n, "axis", 0), xs.length);
    long[] idx = run.shapes().value(n.getInput(1));
    long[] is = run.shapes().shape(n.getInput(1));
    long d = xs[a];
    if (idx == null
        || is == null
        || d < 0
        || Arrays.stream(idx).anyMatch(v -> v == Shapes.UNKNOWN)) {
      throw unsupportedConfig(
          n,
          "its indices must be a constant and the gathered axis of its"
              + " data must have a fixed size");
    }
    long[] norm = new long[idx.length];
    for (int i = 0; i < idx.length; i++) {
      norm[i] = idx[i] < 0 ? idx[i] + d : idx[i];
      if (norm[i] < 0 || norm[i] >= d) {
        throw new OnnxModelException(
            "Gather node '"
                + n.getName()
                + "': index "
                + idx[i]
                + " is out of range for axis size "
                + d);
      }
    }
    String g;
    if (is.length == 0) {
      g = run.op(Op.UNSQUEEZE, dy, run.ivec(a));
    } else if (is.length == 1) {
      g = dy;
    } else {
      List<String> parts = new ArrayList<>();
      if (a > 0) {
        parts.add(run.b().node(Op.SHAPE, List.of(x), Map.of("start", 0, "end", a)));
      }
      parts.add(run.ivec(norm.length));
      if (a + 1 < xs.length) {
        parts.add(run.b().node(Op.SHAPE, List.of(x), Map.of("start", a + 1)));
      }
      g =
          run.op(
              Op.RESHAPE,
              dy,
              parts.size() == 1 ? parts.get(0) : run.b().node(Op.CONCAT, parts, Map.of("axis", 0)));
    }
    run.addGrad(x, unselect(run, g, a, xs.length, norm, d));
  }

  static void pad(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    run.requireConstant(n, 1, 2, 3);
    long[] xs = run.known(x, n, "input");
    long[] pads = run.shapes().value(n.getInput(1));
    long[] axes =
        n.getInputCount() > 3 && !n.getInput(3).isEmpty()
            ? run.shapes().value(n.getInput(3))
            : null;
    long[][] pe = pads == null ? null : ShapeOpInference.padsPerAxis(n, pads, axes, xs.length);
    if (pe == null || (n.getInputCount() > 3 && !n.getInput(3).isEmpty() && axes == null)) {
      throw unsupportedConfig(n, "its pads (and axes) must be constants");
    }
    String mode = stringAttr(n, "mode", "constant");
    int r = xs.length;
    if (mode.equals("constant")) {
      // negative pads crop: undo them with zero pads, then cut the positive pads away
      long[] nb = new long[r];
      long[] ne = new long[r];
      long[] starts = new long[r];
      long[] ends = new long[r];
      boolean cut = false;
      for (int i = 0; i < r; i++) {
        nb[i] = Math.max(0, -pe[0][i]);
        ne[i] = Math.max(0, -pe[1][i]);
        starts[i] = Math.max(0, pe[0][i]);
        ends[i] = pe[1][i] > 0 ? -pe[1][i] : Long.MAX_VALUE;
        cut |= pe[0][i] > 0 || pe[1][i] > 0;
      }
      String g = zeroPad(run, dy, nb, ne);
      if (cut) {
        long[] ax = new long[r];
        for (int i = 0; i < r; i++) {
          ax[i] = i;
        }
        g =
            run.b()
                .node(
                    Op.SLICE, List.of(g, run.ivec(starts), run.ivec(ends), run.ivec(ax)), Map.of());
      }
      run.addGrad(x, g);
      return;
    }
    if (!mode.equals("reflect") && !mode.equals("edge") && !mode.equals("wrap")) {
      throw unsupportedConfig(n, "unknown mode '" + mode + "'");
    }
    String g = dy;
    for (int a = 0; a < r; a++) {
      if (pe[0][a] == 0 && pe[1][a] == 0) {
        continue;
      }
      long d = xs[a];
      if (d <= 0) {
        throw unsupportedConfig(n, "padded axis " + a + " must have a fixed size");
      }
      long out = d + pe[0][a] + pe[1][a];
      if (out < 0) {
        throw Shapes.corrupt(n, "its pads make axis " + a + " of size " + d + " negative");
      }
      long[] idx = new long[(int) out];
      for (int o = 0; o < out; o++) {
        long i = o - pe[0][a];
        if (mode.equals("edge")) {
          i = Math.max(0, Math.min(d - 1, i));
        } else if (mode.equals("wrap")) {
          i = Math.floorMod(i, d);
        } else {
          if (d == 1) {
            i = 0;
          } else {
            long period = 2 * (d - 1);
            i = Math.floorMod(i, period);
            if (i >= d) {
              i = period - i;
            }
          }
        }
        idx[o] = i;
      }
      g = unselect(run, g, a, r, idx, d);
    }
    run.addGrad(x, g);
  }

  static void resize(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    run.requireConstant(n, 1, 2, 3);
    String mode = stringAttr(n, "mode", "nearest");
    String ctm = stringAttr(n, "coordinate_transformation_mode", "half_pixel");
    String nm = stringAttr(n, "nearest_mode", "round_prefer_floor");
    if (!mode.equals("nearest") && !mode.equals("linear")) {
      throw unsupportedConfig(n, "mode '" + mode + "' (only nearest and linear are supported)");
    }
    if (intAttr(n, "antialias", 0) != 0 || GraphIndex.attr(n, "axes") != null) {
      throw unsupportedConfig(n, "antialias and axes (opset 18) are not supported");
    }
    if (!List.of(
            "half_pixel",
            "pytorch_half_pixel",
            "align_corners",
            "asymmetric",
            "half_pixel_symmetric")
        .contains(ctm)) {
      throw unsupportedConfig(n, "coordinate_transformation_mode '" + ctm + "'");
    }
    long[] xs = run.known(x, n, "input");
    long[] ys = run.shapes().shape(n.getOutput(0));
    float[] scales =
        n.getInputCount() > 2 && !n.getInput(2).isEmpty()
            ? run.shapes().floatValue(n.getInput(2))
            : null;
    if (scales != null && scales.length == 0) {
      scales = null;
    }
    if (ys == null || (scales == null && (n.getInputCount() < 4 || n.getInput(3).isEmpty()))) {
      throw unsupportedConfig(n, "its scales or sizes must be constants");
    }
    if ((scales != null && scales.length != xs.length) || ys.length != xs.length) {
      throw Shapes.corrupt(
          n,
          "its scales or sizes do not have one entry per axis of its input"
              + " (rank "
              + xs.length
              + ")");
    }
    String g = dy;
    for (int a = 0; a < xs.length; a++) {
      long d = xs[a];
      long o = ys[a];
      float scale = scales != null ? scales[a] : (d > 0 ? (float) o / (float) d : 1f);
      if (o == d && scale == 1f) {
        continue;
      }
      if (d <= 0 || o <= 0) {
        throw unsupportedConfig(n, "resized axis " + a + " must have a fixed size");
      }
      float[] m = new float[(int) (o * d)];
      for (int i = 0; i < o; i++) {
        float c = sourceCoordinate(ctm, i, scale, d, o);
        if (mode.equals("nearest")) {
          long j = nearest(nm, c);
          j = Math.max(0, Math.min(d - 1, j));
          m[(int) (i * d + j)] += 1f;
        } else {
          float cc = Math.max(0f, Math.min(c, d - 1));
          long j0 = Math.min((long) cc, d - 1);
          long j1 = Math.min(j0 + 1, d - 1);
          float w1 = cc - j0;
          m[(int) (i * d + j0)] += 1f - w1;
          m[(int) (i * d + j1)] += w1;
        }
      }
      g = axisMatMul(run, g, a, xs.length, m, o, d);
    }
    run.addGrad(x, g);
  }

  /** The adjoint of Pad-by-zeros: a Pad of {@code g} with per-axis begin/end (zero pads). */
  private static String zeroPad(GradientRun run, String g, long[] begin, long[] end) {
    long[] pads = new long[2 * begin.length];
    boolean any = false;
    for (int i = 0; i < begin.length; i++) {
      pads[i] = begin[i];
      pads[i + begin.length] = end[i];
      any |= begin[i] != 0 || end[i] != 0;
    }
    return any ? run.op(Op.PAD, g, run.ivec(pads)) : g;
  }

  /**
   * Multiplies {@code g} along {@code axis} by the matrix {@code m} (rows x cols): the axis of size
   * {@code rows} becomes one of size {@code cols}, out[c] = sum_r g[r] m[r][c].
   */
  private static String axisMatMul(
      GradientRun run, String g, int axis, int rank, float[] m, long rows, long cols) {
    String mat = run.b().floatInitializer("axis_map", m, rows, cols);
    if (axis == rank - 1) {
      return run.op(Op.MAT_MUL, g, mat);
    }
    long[] perm = new long[rank];
    for (int i = 0; i < rank; i++) {
      perm[i] = i;
    }
    perm[axis] = rank - 1;
    perm[rank - 1] = axis;
    String t = run.op(Op.TRANSPOSE, Map.of("perm", perm), g);
    return run.op(Op.TRANSPOSE, Map.of("perm", perm), run.op(Op.MAT_MUL, t, mat));
  }

  /**
   * The adjoint of selecting indices {@code idx} (in [0,d)) along {@code axis}: a zero Pad for a
   * contiguous ascending run, else a product with the (|idx| x d) one-hot selection matrix
   * (repeated indices add up).
   */
  private static String unselect(
      GradientRun run, String g, int axis, int rank, long[] idx, long d) {
    boolean contiguous = true;
    for (int i = 1; i < idx.length; i++) {
      contiguous &= idx[i] == idx[i - 1] + 1;
    }
    if (contiguous && idx.length > 0) {
      long[] begin = new long[rank];
      long[] end = new long[rank];
      begin[axis] = idx[0];
      end[axis] = d - idx[0] - idx.length;
      return zeroPad(run, g, begin, end);
    }
    float[] m = new float[(int) (idx.length * d)];
    for (int i = 0; i < idx.length; i++) {
      m[(int) (i * d + idx[i])] += 1f;
    }
    return axisMatMul(run, g, axis, rank, m, idx.length, d);
  }

  private static float sourceCoordinate(String ctm, long i, float scale, long d, long o) {
    return switch (ctm) {
      case "asymmetric" -> i / scale;
      case "align_corners" -> o == 1 ? 0f : i * (float) (d - 1) / (float) (o - 1);
      case "pytorch_half_pixel" -> o > 1 ? (i + 0.5f) / scale - 0.5f : 0f;
      case "half_pixel_symmetric" -> {
        float adj = o / (scale * d);
        float offset = d / 2f * (1 - adj);
        yield offset + (i + 0.5f) / scale - 0.5f;
      }
      default -> (i + 0.5f) / scale - 0.5f; // half_pixel
    };
  }

  private static long nearest(String mode, float c) {
    return switch (mode) {
      case "floor" -> (long) Math.floor(c);
      case "ceil" -> (long) Math.ceil(c);
      case "round_prefer_ceil" -> (long) Math.floor(c + 0.5f);
      default -> c == Math.floor(c) + 0.5f ? (long) Math.floor(c) : Math.round(c);
    };
  }
}
