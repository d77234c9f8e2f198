package dev.arat.trainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import java.util.Collection;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Verifies, once per convolution geometry and JVM, that libtorch's channels-last convolution
 * computes what its NCHW convolution computes on this machine, before a network trusts it.
 *
 * <p>libtorch picks oneDNN kernels by CPU and shape, and one of them was found wrong (the
 * channels-last 1×1 kernel on AVX-512, see {@link SplitBnNetwork}); other CPUs get other kernels.
 * So each spatial convolution of a network is run once on random data at batch 2 in both layouts
 * (channels-last input and weight against NCHW ones): the output, the input gradient and the weight
 * gradient must agree to 1e-3 of their scale. Any disagreement makes the network use NCHW (see
 * {@link SplitBnNetwork#channelsLast()}). Paid once per geometry and JVM: 0.7 s for ResNet-18's
 * convolutions, 1.1 s for WRN-34-10's on this 2-core CPU.
 */
final class ChannelsLastCheck {
  /**
   * One convolution as the network runs it: input channels and spatial size, output channels,
   * square kernel, stride and padding.
   */
  record Geometry(int in, int height, int width, int out, int kernel, int stride, int padding) {
    @Override
    public String toString() {
      return in
          + "→"
          + out
          + " "
          + kernel
          + "×"
          + kernel
          + " stride "
          + stride
          + " on "
          + height
          + "×"
          + width;
    }
  }

  /** Verdicts so far (package-private: a test plants a failure to exercise the fallback). */
  static final Map<Geometry, Boolean> VERIFIED = new ConcurrentHashMap<>();

  private ChannelsLastCheck() {}

  /**
   * The first geometry whose channels-last result differs from NCHW on this machine, or null when
   * all agree.
   *
   * @param geometries the convolutions to verify
   * @param parent a manager on the network's device (scratch arrays live in a sub-manager)
   */
  static Geometry firstDisagreement(Collection<Geometry> geometries, NDManager parent) {
    for (Geometry g : geometries) {
      if (!VERIFIED.computeIfAbsent(g, k -> agrees(k, parent))) {
        return g;
      }
    }
    return null;
  }

  private static boolean agrees(Geometry g, NDManager parent) {
    try (NDManager m = parent.newSubManager()) {
      // data from a private generator: the engine's global one is left alone
      SplittableRandom r = new SplittableRandom(17);
      Shape xs = new Shape(2, g.in(), g.height(), g.width());
      Shape ws = new Shape(g.out(), g.in(), g.kernel(), g.kernel());
      NDArray x = m.create(uniform(r, xs.size(), 1f), xs);
      NDArray w = m.create(uniform(r, ws.size(), 0.1f), ws);
      NDArray[] nchw = run(g, x, w, false);
      NDArray[] cl = run(g, x, w, true);
      for (int i = 0; i < nchw.length; i++) {
        float scale = nchw[i].abs().max().getFloat();
        float diff = nchw[i].sub(cl[i]).abs().max().getFloat();
        if (!(diff <= 1e-3f * scale + 1e-6f)) {
          return false;
        }
      }
      return true;
    }
  }

  private static float[] uniform(SplittableRandom r, long n, float bound) {
    float[] v = new float[Math.toIntExact(n)];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) ((2 * r.nextDouble() - 1) * bound);
    }
    return v;
  }

  /** Output, input gradient and weight gradient of the gradient-weighted output sum. */
  private static NDArray[] run(Geometry g, NDArray x0, NDArray w0, boolean channelsLast) {
    NDArray x = channelsLast ? ChannelsLast.convert(x0) : x0.duplicate();
    NDArray w = channelsLast ? ChannelsLast.convert(w0) : w0.duplicate();
    x.setRequiresGradient(true);
    w.setRequiresGradient(true);
    NDArray y;
    try (Autograd gc = Autograd.record()) {
      y =
          Conv2d.conv2d(
                  x,
                  w,
                  null,
                  new Shape(g.stride(), g.stride()),
                  new Shape(g.padding(), g.padding()),
                  new Shape(1, 1),
                  1)
              .singletonOrThrow();
      // a fixed, non-uniform upstream gradient: cos of the output index
      NDArray seed = x.getManager().arange(0f, (float) y.size()).reshape(y.getShape()).cos();
      gc.backward(y.mul(seed));
    }
    return new NDArray[] {y.stopGradient(), x.getGradient(), w.getGradient()};
  }
}
