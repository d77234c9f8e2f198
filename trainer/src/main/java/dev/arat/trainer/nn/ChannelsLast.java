package dev.arat.trainer.nn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.nn.pooling.Pool;

/**
 * Channels-last memory for {@link SplitBnNetwork}: when to use it, the conversion, and the 1×1
 * convolution that replaces libtorch's channels-last 1×1 kernel. {@link ChannelsLastCheck} verifies
 * the other convolutions on the machine at hand.
 */
final class ChannelsLast {
  private ChannelsLast() {}

  /**
   * Whether a network on {@code device} keeps 4-D activations and spatial conv weights in
   * channels-last memory: on the CPU, where libtorch's oneDNN convolutions then skip the NCHW ↔
   * blocked reorders of every call (measured: ResNet-18 steps 4-6% faster, see bench/README.md).
   * GPUs keep NCHW, cuDNN's float32 default (not measurable here).
   */
  static boolean usedOn(Device device) {
    return Device.Type.CPU.equals(device.getDeviceType());
  }

  /**
   * {@code h} {@code (N,C,H,W)} with the same values in channels-last memory (NHWC order, strides
   * {@code (HWC, 1, WC, C)}): one copy. Ops on it (convolution, BatchNorm, ReLU, add, pooling) keep
   * that layout; reshapes and reads see the logical NCHW order.
   */
  static NDArray convert(NDArray h) {
    Shape s = h.getShape();
    return h.transpose(0, 2, 3, 1)
        .reshape(s.size())
        .reshape(s.get(0), s.get(2), s.get(3), s.get(1))
        .transpose(0, 3, 1, 2);
  }

  /**
   * A 1×1 convolution (no padding) of channels-last {@code h} {@code (N,C,H,W)} with weight {@code
   * (O,C,1,1)}, as one matrix product over the pixels: {@code (N·H'·W', C) × (C, O)}, where stride
   * {@code s} first keeps every s-th row and column (an average pool of window 1, exact, which
   * keeps the layout in its backward too). The result is {@code (N,O,H',W')}, channels-last.
   *
   * <p>Why not libtorch's convolution: in libtorch 2.7.1 (DJL 0.36) the channels-last 1×1 kernel
   * ({@code brgconv_1x1:avx512_core}) returns wrong values on AVX-512 CPUs for many shapes, e.g.
   * 256→512 or 160→320 channels at stride 1 and 2 (relative error ~0.5, measured against NCHW;
   * {@code ChannelsLastTest} fails with it). The 3×3 and 5×5 channels-last kernels agree with NCHW
   * in forward, input gradient and weight gradient over every ResNet/WRN/small-CNN shape and batch
   * size (1-128) probed (bench/README.md).
   */
  static NDArray pointwiseConv(NDArray h, NDArray weight, NDArray bias, int stride) {
    NDArray x =
        stride == 1
            ? h
            : Pool.avgPool2d(
                h, new Shape(1, 1), new Shape(stride, stride), new Shape(0, 0), false, true);
    Shape s = x.getShape();
    long n = s.get(0);
    long c = s.get(1);
    long height = s.get(2);
    long width = s.get(3);
    long o = weight.getShape().get(0);
    NDArray pixels = x.transpose(0, 2, 3, 1).reshape(n * height * width, c);
    NDArray w = weight.reshape(o, c);
    NDArray out =
        (bias == null ? Linear.linear(pixels, w) : Linear.linear(pixels, w, bias))
            .singletonOrThrow();
    return out.reshape(n, height, width, o).transpose(0, 3, 1, 2);
  }
}
