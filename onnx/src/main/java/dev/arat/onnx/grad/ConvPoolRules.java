package dev.arat.onnx.grad;

import static dev.arat.onnx.GraphIndex.floatAttr;
import static dev.arat.onnx.GraphIndex.intAttr;
import static dev.arat.onnx.GraphIndex.intsAttr;
import static dev.arat.onnx.grad.GradientRules.unsupportedConfig;
import static dev.arat.onnx.grad.Shapes.dimsText;

import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Gradient rules of the convolutions, matrix products and pools: Conv (flipped-kernel Conv or
 * ConvTranspose), Gemm, MatMul, MaxPool (block rule without Indices, or the Indices output),
 * AveragePool and GlobalAveragePool. GlobalMaxPool is rewritten to a MaxPool over the whole plane
 * by {@link ForwardGraph}, so MaxPool's rule differentiates it.
 */
final class ConvPoolRules {
  /**
   * Stride-1 Convs whose input has at most this many channels (typically the first Conv, on the
   * image) are differentiated with ConvTranspose: for so few output channels ORT's ConvTranspose
   * (GEMM with K = the Conv's output channels, then a small col2im) is about 3x faster than the
   * flipped-kernel Conv (im2col of all the output channels for a 1-row GEMM).
   */
  private static final int CONV_TRANSPOSE_MAX_CHANNELS = 3;

  static void register(GradientRules.Table t) {
    t.add(ConvPoolRules::conv, "Conv");
    t.add(ConvPoolRules::gemm, "Gemm");
    t.add(ConvPoolRules::matmul, "MatMul");
    t.add(ConvPoolRules::maxPool, "MaxPool", "GlobalMaxPool");
    t.add(ConvPoolRules::averagePool, "AveragePool");
    t.add(ConvPoolRules::globalAveragePool, "GlobalAveragePool");
  }

  private ConvPoolRules() {}

  static void conv(GradientRun run, NodeProto n, String dy) {
    run.requireConstant(n, 1, 2);
    String x = n.getInput(0);
    String w = n.getInput(1);
    long[] xs = run.knownSpatial(x, n);
    long[] ws = run.known(w, n, "weight");
    long[] sp = Arrays.copyOfRange(xs, 2, xs.length);
    long[] k = intsAttr(n, "kernel_shape");
    if (k == null) {
      k = Arrays.copyOfRange(ws, 2, ws.length);
    }
    Window win = Window.of(n, sp, k, false);
    Map<String, Object> attrs = new LinkedHashMap<>();
    attrs.put("kernel_shape", k);
    attrs.put("strides", win.strides());
    attrs.put("dilations", win.dilations());
    attrs.put("pads", win.pads());
    attrs.put("output_padding", checkedOutputPadding(n, win));
    attrs.put("group", intAttr(n, "group", 1));
    String flipped =
        Arrays.stream(win.strides()).allMatch(v -> v == 1) && xs[1] > CONV_TRANSPOSE_MAX_CHANNELS
            ? flippedAdjoint(run, w, ws, (int) intAttr(n, "group", 1))
            : null;
    long[] adjPads = new long[2 * sp.length];
    boolean padsOk = true;
    for (int i = 0; i < sp.length; i++) {
      long span = (k[i] - 1) * win.dilations()[i];
      adjPads[i] = span - win.padBegin()[i];
      adjPads[i + sp.length] = span - win.padEnd()[i];
      padsOk &= adjPads[i] >= 0 && adjPads[i + sp.length] >= 0;
    }
    if (flipped != null && padsOk) {
      // stride 1: the adjoint is a plain Conv with the spatially flipped, in/out-swapped kernel
      // (ONNX Runtime runs Conv far faster than ConvTranspose)
      Map<String, Object> ca = new LinkedHashMap<>();
      ca.put("kernel_shape", k);
      ca.put("dilations", win.dilations());
      ca.put("pads", adjPads);
      ca.put("group", intAttr(n, "group", 1));
      run.addGrad(x, run.b().node(Op.CONV, List.of(dy, flipped), ca));
      return;
    }
    run.addGrad(x, run.b().node(Op.CONV_TRANSPOSE, List.of(dy, w), attrs));
  }

  /**
   * The kernel of the stride-1 adjoint convolution: W (M, C/g, k...) becomes W' (C, M/g, k...) with
   * W'[g*C/g + c, m, i...] = W[g*M/g + m, c, (k-1-i)...]; null if W is not a float32 initializer
   * (then ConvTranspose is used).
   */
  private static String flippedAdjoint(GradientRun run, String w, long[] ws, int group) {
    TensorProto t = run.initializer(w);
    if (t == null || t.getDataType() != Tensors.FLOAT || ws.length < 3) {
      return null;
    }
    float[] src = Tensors.toFloatArray(t);
    int m = (int) ws[0];
    int cg = (int) ws[1];
    int mg = m / group;
    int ksize = 1;
    for (int i = 2; i < ws.length; i++) {
      ksize *= (int) ws[i];
    }
    float[] dst = new float[src.length];
    for (int gi = 0; gi < group; gi++) {
      for (int mm = 0; mm < mg; mm++) {
        for (int c = 0; c < cg; c++) {
          int from = ((gi * mg + mm) * cg + c) * ksize;
          int to = ((gi * cg + c) * mg + mm) * ksize;
          for (int q = 0; q < ksize; q++) {
            dst[to + ksize - 1 - q] = src[from + q]; // reversing the flat kernel flips all axes
          }
        }
      }
    }
    long[] shape = ws.clone();
    shape[0] = (long) cg * group;
    shape[1] = mg;
    return run.b().floatInitializer(w + "_adjoint", dst, shape);
  }

  private static long[] checkedOutputPadding(NodeProto n, Window win) {
    long[] op = win.outputPadding();
    for (int i = 0; i < op.length; i++) {
      if (op[i] < 0 || op[i] >= Math.max(win.strides()[i], win.dilations()[i])) {
        throw unsupportedConfig(
            n,
            "cannot express its adjoint as ConvTranspose (output"
                + " padding "
                + op[i]
                + " on spatial axis "
                + i
                + ")");
      }
    }
    return op;
  }

  static void gemm(GradientRun run, NodeProto n, String dy) {
    String a = n.getInput(0);
    String bb = n.getInput(1);
    float alpha = floatAttr(n, "alpha", 1f);
    float beta = floatAttr(n, "beta", 1f);
    long ta = intAttr(n, "transA", 0);
    long tb = intAttr(n, "transB", 0);
    if (run.dep(a)) {
      String da =
          ta == 0
              ? run.b()
                  .node(Op.GEMM, List.of(dy, bb), Map.of("alpha", alpha, "transB", tb == 0 ? 1 : 0))
              : run.b()
                  .node(
                      Op.GEMM, List.of(bb, dy), Map.of("alpha", alpha, "transA", tb, "transB", 1));
      run.addGrad(a, da);
    }
    if (run.dep(bb)) {
      String db =
          tb == 0
              ? run.b()
                  .node(Op.GEMM, List.of(a, dy), Map.of("alpha", alpha, "transA", ta == 0 ? 1 : 0))
              : run.b()
                  .node(Op.GEMM, List.of(dy, a), Map.of("alpha", alpha, "transA", 1, "transB", ta));
      run.addGrad(bb, db);
    }
    if (n.getInputCount() > 2 && !n.getInput(2).isEmpty() && run.dep(n.getInput(2))) {
      String dc = beta == 1f ? dy : run.op(Op.MUL, dy, run.fconst(beta));
      run.addGrad(
          n.getInput(2), run.unbroadcast(dc, run.shapes().shape(n.getOutput(0)), n.getInput(2), n));
    }
  }

  static void matmul(GradientRun run, NodeProto n, String dy) {
    String a = n.getInput(0);
    String bb = n.getInput(1);
    long[] as = run.known(a, n, "input A");
    long[] bs = run.known(bb, n, "input B");
    long[] ys = run.shapes().shape(n.getOutput(0));
    if (as.length < 2 || bs.length < 2 || ys == null) {
      throw unsupportedConfig(
          n,
          "1-D operands are not supported (shapes " + dimsText(as) + " and " + dimsText(bs) + ")");
    }
    if (run.dep(a)) {
      String da =
          run.op(Op.MAT_MUL, dy, run.op(Op.TRANSPOSE, Map.of("perm", swapLast(bs.length)), bb));
      long[] gs = ys.clone();
      gs[gs.length - 2] = as[as.length - 2];
      gs[gs.length - 1] = as[as.length - 1];
      run.addGrad(a, run.unbroadcast(da, gs, a, n));
    }
    if (run.dep(bb)) {
      String db =
          run.op(Op.MAT_MUL, run.op(Op.TRANSPOSE, Map.of("perm", swapLast(as.length)), a), dy);
      long[] gs = ys.clone();
      gs[gs.length - 2] = bs[bs.length - 2];
      gs[gs.length - 1] = bs[bs.length - 1];
      run.addGrad(bb, run.unbroadcast(db, gs, bb, n));
    }
  }

  private static long[] swapLast(int rank) {
    long[] p = new long[rank];
    for (int i = 0; i < rank; i++) {
      p[i] = i;
    }
    p[rank - 1] = rank - 2;
    p[rank - 2] = rank - 1;
    return p;
  }

  static void maxPool(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    if (n.getOutputCount() < 2 || n.getOutput(1).isEmpty()) {
      blockMaxPool(run, n, dy, blockPoolSize(run.shapes(), n));
      return;
    }
    String indices = n.getOutput(1);
    String zeros =
        run.op(Op.CONSTANT_OF_SHAPE, run.op(Op.RESHAPE, run.op(Op.SIZE, x), run.ivec(1)));
    String flat =
        run.b()
            .node(
                Op.SCATTER_ELEMENTS,
                List.of(
                    zeros,
                    run.op(Op.RESHAPE, indices, run.ivec(-1)),
                    run.op(Op.RESHAPE, dy, run.ivec(-1))),
                Map.of("axis", 0, "reduction", "add"));
    run.addGrad(x, run.op(Op.RESHAPE, flat, run.shapeOf(x)));
  }

  /**
   * The block size k if MaxPool node n pools disjoint k x k blocks that tile its 4-D input exactly
   * (kernel k x k, strides k, no padding, dilations 1, H and W multiples of k); else 0.
   */
  static long blockPoolSize(Shapes shapes, NodeProto n) {
    long[] xs = shapes.shape(n.getInput(0));
    long[] k = intsAttr(n, "kernel_shape");
    if (xs == null || xs.length != 4 || k == null || k.length != 2 || k[0] != k[1]) {
      return 0;
    }
    for (int i = 1; i < 4; i++) {
      if (xs[i] <= 0) {
        return 0;
      }
    }
    long[] sp = {xs[2], xs[3]};
    Window win = Window.of(n, sp, k, intAttr(n, "ceil_mode", 0) != 0);
    for (int i = 0; i < 2; i++) {
      if (win.strides()[i] != k[i]
          || win.dilations()[i] != 1
          || win.padBegin()[i] != 0
          || win.padEnd()[i] != 0
          || sp[i] % k[i] != 0) {
        return 0;
      }
    }
    return k[0];
  }

  /**
   * Nearest-neighbour k-fold upsampling of t (N,C,h,w) to (N,C,hk,wk), xs = (N,C,hk,wk). The Resize
   * sees a one-channel view (N*C,1,h,w) so that ORT's NCHWc transformer leaves it (and the ops
   * around it) in plain NCHW: in NCHWc the full-size result would need a ReorderOutput, which costs
   * more than the Resize.
   */
  private static String upsample(GradientRun run, String t, long k, long[] xs) {
    String scales =
        run.cached(
            "up" + k, () -> run.b().floatInitializer("up_scales", new float[] {1f, 1f, k, k}, 4));
    String flat = run.op(Op.RESHAPE, t, run.ivec(-1, 1, xs[2] / k, xs[3] / k));
    String up =
        run.b()
            .node(
                Op.RESIZE,
                List.of(flat, "", scales),
                Map.of(
                    "mode",
                    "nearest",
                    "coordinate_transformation_mode",
                    "asymmetric",
                    "nearest_mode",
                    "floor"));
    return run.op(Op.RESHAPE, up, run.ivec(-1, xs[1], xs[2], xs[3]));
  }

  /**
   * MaxPool backward for disjoint k x k blocks (see {@link #blockPoolSize}) without the Indices
   * output, whose ORT kernel is slow. With up() the nearest-neighbour k-fold upsampling, the window
   * maxima of x are where x == up(y) (y the forward pool's own output); each gets the code k*k -
   * (its row-major position in the window), others 0; a k x k MaxPool of the codes picks the first
   * maximum of each window, and the window's gradient goes to the position whose code equals it
   * (the rule of the Indices path). If x is the output of a Relu read only by this pool, the Relu's
   * mask is applied here at the pooled size (the chosen position has x = y, so x &gt; 0 iff y &gt;
   * 0) and the Relu passes the gradient through unchanged.
   */
  private static void blockMaxPool(GradientRun run, NodeProto n, String dy, long k) {
    String x = n.getInput(0);
    String p = n.getOutput(0);
    long[] xs = run.shapes().shape(x);
    int hh = (int) xs[2];
    int ww = (int) xs[3];
    String g = dy;
    NodeProto relu = run.producer(x);
    if (relu != null && relu.getOpType().equals("Relu") && run.consumers(x) == 1) {
      g = run.op(Op.MUL, dy, run.op(Op.SIGN, p)); // p >= 0: Sign(p) is the 0/1 mask (p > 0)
      run.premask(x);
    }
    float[] code = new float[hh * ww];
    for (int i = 0; i < hh; i++) {
      for (int j = 0; j < ww; j++) {
        code[i * ww + j] = k * k - ((i % k) * k + (j % k));
      }
    }
    String codes =
        run.op(
            Op.MUL,
            toFloat(run, run.op(Op.EQUAL, x, upsample(run, p, k, xs))),
            run.b().floatInitializer("window_code", code, 1, 1, hh, ww));
    Map<String, Object> pa = new LinkedHashMap<>();
    pa.put("kernel_shape", new long[] {k, k});
    pa.put("strides", new long[] {k, k});
    // one-channel view again, to keep this MaxPool (and its input) out of NCHWc
    String first =
        run.op(
            Op.RESHAPE,
            run.op(Op.MAX_POOL, pa, run.op(Op.RESHAPE, codes, run.ivec(-1, 1, hh, ww))),
            run.ivec(-1, xs[1], hh / k, ww / k));
    String chosen = toFloat(run, run.op(Op.EQUAL, codes, upsample(run, first, k, xs)));
    run.addGrad(x, run.op(Op.MUL, upsample(run, g, k, xs), chosen));
  }

  private static String toFloat(GradientRun run, String t) {
    return run.op(Op.CAST, Map.of("to", (long) Tensors.FLOAT), t);
  }

  static void averagePool(GradientRun run, NodeProto n, String dy) {
    if (intAttr(n, "ceil_mode", 0) != 0) {
      throw unsupportedConfig(n, "ceil_mode=1 is not supported for AveragePool");
    }
    String x = n.getInput(0);
    long[] xs = run.knownSpatial(x, n);
    long[] sp = Arrays.copyOfRange(xs, 2, xs.length);
    long[] k = intsAttr(n, "kernel_shape");
    Window win = Window.of(n, sp, k, false);
    long kprod = 1;
    for (long d : k) {
      kprod *= d;
    }
    boolean padded =
        Arrays.stream(win.padBegin()).anyMatch(p -> p > 0)
            || Arrays.stream(win.padEnd()).anyMatch(p -> p > 0);
    String scaled;
    if (intAttr(n, "count_include_pad", 0) != 0 || !padded) {
      scaled = run.op(Op.MUL, dy, run.fconst(1f / kprod));
    } else {
      // 1 / (number of non-pad input positions in each window), shape (1,1,out...)
      long[] out = win.out();
      int total = (int) Tensors.numel(out);
      float[] inv = new float[total];
      for (int idx = 0; idx < total; idx++) {
        long rem = idx;
        long count = 1;
        for (int a = out.length - 1; a >= 0; a--) {
          long o = rem % out[a];
          rem /= out[a];
          long start = o * win.strides()[a] - win.padBegin()[a];
          long end = Math.min(start + k[a], sp[a]);
          count *= Math.max(0, end - Math.max(start, 0));
        }
        inv[idx] = count > 0 ? 1f / count : 0f;
      }
      long[] shape = new long[out.length + 2];
      shape[0] = 1;
      shape[1] = 1;
      System.arraycopy(out, 0, shape, 2, out.length);
      scaled = run.op(Op.MUL, dy, run.b().floatInitializer("avgpool_inv_count", inv, shape));
    }
    long c = xs[1];
    float[] ones = new float[(int) (c * kprod)];
    Arrays.fill(ones, 1f);
    long[] wshape = new long[k.length + 2];
    wshape[0] = c;
    wshape[1] = 1;
    System.arraycopy(k, 0, wshape, 2, k.length);
    String w = run.b().floatInitializer("avgpool_ones", ones, wshape);
    Map<String, Object> attrs = new LinkedHashMap<>();
    attrs.put("kernel_shape", k);
    attrs.put("strides", win.strides());
    attrs.put("pads", win.pads());
    attrs.put("output_padding", checkedOutputPadding(n, win));
    attrs.put("group", c);
    run.addGrad(x, run.b().node(Op.CONV_TRANSPOSE, List.of(scaled, w), attrs));
  }

  static void globalAveragePool(GradientRun run, NodeProto n, String dy) {
    String x = n.getInput(0);
    long[] xs = run.knownSpatial(x, n);
    long hw = 1;
    for (int i = 2; i < xs.length; i++) {
      hw *= xs[i];
    }
    run.addGrad(x, run.op(Op.EXPAND, run.op(Op.MUL, dy, run.fconst(1f / hw)), run.shapeOf(x)));
  }
}
