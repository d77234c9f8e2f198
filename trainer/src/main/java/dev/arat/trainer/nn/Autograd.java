package dev.arat.trainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * A scope that records operations for reverse-mode gradients on the PyTorch engine, usable from
 * several threads at once.
 *
 * <p>DJL's {@code GradientCollector} allows one open collector per JVM (a static flag), which rules
 * out data-parallel replicas computing gradients concurrently. libtorch's gradient mode is per
 * thread: this scope enables it for the calling thread, {@link #backward} runs libtorch's autograd
 * directly (gradients accumulate into the leaves, as with DJL's collector), and {@link #close}
 * restores the thread's previous mode. Threads other than the one DJL initialised start with
 * gradient mode <em>on</em> in libtorch; a worker thread calls {@link #disableForThisThread} first
 * so that only its scopes record.
 */
public final class Autograd implements AutoCloseable {
  private final boolean previous;

  private Autograd() {
    previous = JniUtils.isGradMode();
    JniUtils.setGradMode(true);
  }

  /** Opens a recording scope for the calling thread. */
  public static Autograd record() {
    return new Autograd();
  }

  /**
   * Back-propagates {@code target} (any shape; seeded with ones, i.e. the gradient of its sum) into
   * the gradients of every leaf that requires one. The graph is freed afterwards.
   */
  public void backward(NDArray target) {
    try (NDArray seed = target.onesLike()) {
      JniUtils.backward((PtNDArray) target, (PtNDArray) seed, false, false);
    }
  }

  /** Ends recording: the thread's gradient mode is what it was before {@link #record}. */
  @Override
  public void close() {
    JniUtils.setGradMode(previous);
  }

  /** Turns gradient recording off for the calling thread until a scope is opened. */
  public static void disableForThisThread() {
    JniUtils.setGradMode(false);
  }
}
