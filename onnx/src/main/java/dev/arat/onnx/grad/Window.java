package dev.arat.onnx.grad;

import static dev.arat.onnx.GraphIndex.intsAttr;
import static dev.arat.onnx.GraphIndex.stringAttr;

import ai.onnx.proto.OnnxMl.NodeProto;
import dev.arat.onnx.OnnxModelException;
import java.util.Arrays;

/**
 * The geometry of a convolution or pooling window along the spatial axes: pads at the start and end
 * of each axis (explicit, after resolving auto_pad), kernel, strides, dilations and the output
 * size.
 */
record Window(
    long[] in,
    long[] kernel,
    long[] strides,
    long[] dilations,
    long[] padBegin,
    long[] padEnd,
    long[] out) {
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

  /**
   * Resolves a window from a node's attributes.
   *
   * @param in spatial input sizes, all known
   * @param kernel kernel sizes
   * @param ceil whether ceil_mode is on (pools only)
   */
  static Window of(NodeProto n, long[] in, long[] kernel, boolean ceil) {
    int r = in.length;
    if (kernel == null) {
      throw new OnnxModelException(
          "node '" + n.getName() + "' (" + n.getOpType() + ") has no kernel_shape");
    }
    long[] strides = orOnes(intsAttr(n, "strides"), r);
    long[] dil = orOnes(intsAttr(n, "dilations"), r);
    if (kernel.length != r
        || Arrays.stream(strides).anyMatch(v -> v <= 0)
        || Arrays.stream(dil).anyMatch(v -> v <= 0)
        || Arrays.stream(kernel).anyMatch(v -> v <= 0)) {
      throw new OnnxModelException(
          "node '"
              + n.getName()
              + "' ("
              + n.getOpType()
              + "): kernel "
              + Arrays.toString(kernel)
              + ", strides "
              + Arrays.toString(strides)
              + " and dilations "
              + Arrays.toString(dil)
              + " must be positive, one per spatial axis ("
              + r
              + ")");
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
        default ->
            throw new OnnxModelException(
                "node '"
                    + n.getName()
                    + "' ("
                    + n.getOpType()
                    + "): unknown auto_pad '"
                    + autoPad
                    + "'");
      }
      if (out[i] <= 0) {
        throw new OnnxModelException(
            "node '"
                + n.getName()
                + "' ("
                + n.getOpType()
                + "): window larger than its input along spatial axis "
                + i);
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
}
