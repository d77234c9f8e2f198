package dev.arat.trainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.arat.attack.GradientClassifier;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.attack.LossHeads;
import dev.arat.specs.LossHead;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * The DJL adapter that lets attacks (such as {@code dev.arat.attack.Pgd}) query a {@link
 * SplitBnNetwork}: logits and input gradients of a loss head.
 *
 * <p>The model mode is fixed at construction (DESIGN decision 7): the BN {@link
 * SplitBnNetwork.Branch} and whether BN runs in train mode. In train mode every call uses the
 * batch's statistics and updates that branch's running statistics, as PyTorch does (ARAT-METHOD §2,
 * P4: in-training PGD uses the adv branch in train mode). In eval mode nothing in the network
 * changes.
 *
 * <p>Gradient calls freeze the network's weights for their duration (and restore the previous state
 * afterwards), so an attack's backward passes never reach the weights' gradients. Gradients are
 * recorded with {@link Autograd} (per thread). Not thread-safe: one adapter per thread (the network
 * is not thread-safe either); the images are staged in a direct buffer the adapter reuses from call
 * to call, which spares DJL's allocation, zeroing and copy of a new one per call.
 *
 * <p>Loss heads: every {@link LossHead} that {@link LossHeads} implements (CE, targeted CE, CW
 * margin, DLR, targeted DLR). The head's per-sample values and their gradient with respect to the
 * logits come from {@link LossHeads} (the same reference the evaluator uses); the network then
 * back-propagates {@code Σ_i <dL_i/dz_i, z_i>}, which is exactly the input gradient of {@code Σ_i
 * L_i}.
 */
public final class NetworkClassifier implements GradientClassifier {
  private final SplitBnNetwork net;
  private final SplitBnNetwork.Branch branch;
  private final boolean train;
  private ByteBuffer staging;

  /**
   * Creates the adapter.
   *
   * @param net the network
   * @param branch which BN set the model uses
   * @param train BN in train mode (batch statistics, running statistics updated) or eval mode
   */
  public NetworkClassifier(SplitBnNetwork net, SplitBnNetwork.Branch branch, boolean train) {
    this.net = net;
    this.branch = branch;
    this.train = train;
  }

  /** The BN set used. */
  public SplitBnNetwork.Branch branch() {
    return branch;
  }

  @Override
  public int numClasses() {
    return net.spec().numClasses();
  }

  /**
   * Computes logits in this adapter's mode.
   *
   * @param x images {@code (N,C,H,W)} in {@code [0,1]}
   * @return logits {@code (N,K)} row-major
   */
  @Override
  public float[] logits(ImageBatch x) {
    check(x);
    if (x.n() == 0) {
      return new float[0];
    }
    try (NDManager step = net.manager().newSubManager()) {
      NDArray xs = input(step, x);
      return read(net.forward(xs, branch, train, false).logits());
    }
  }

  /**
   * Computes logits, per-sample head values and the input gradient of their sum, in this adapter's
   * mode, with the weights frozen.
   *
   * @param x images {@code (N,C,H,W)} in {@code [0,1]}
   * @param labels true classes {@code (N)}
   * @param targets target classes {@code (N)} for targeted heads, else null
   * @param head the loss head
   * @return logits {@code (N,K)}, values {@code (N)}, gradient {@code (N,C,H,W)}
   * @throws IllegalArgumentException for a head {@link LossHeads} does not implement, or too few
   *     classes for it
   */
  @Override
  public LossGradient lossGradient(ImageBatch x, int[] labels, int[] targets, LossHead head) {
    check(x);
    int k = numClasses();
    if (head == null || k < LossHeads.minClasses(head)) {
      throw new IllegalArgumentException(
          "loss head " + head + " is not supported for " + k + " classes by the DJL adapter");
    }
    if (labels.length != x.n()
        || (head.targeted() && (targets == null || targets.length != x.n()))) {
      throw new IllegalArgumentException("labels/targets must have one entry per image");
    }
    if (x.n() == 0) {
      return new LossGradient(new float[0], new float[0], new float[0]);
    }
    boolean wasTrainable = net.isTrainable();
    net.setTrainable(false);
    try (NDManager step = net.manager().newSubManager()) {
      NDArray xs = input(step, x);
      xs.setRequiresGradient(true);
      float[] logits;
      float[] values;
      try (Autograd gc = Autograd.record()) {
        NDArray z = net.forward(xs, branch, train, false).logits();
        logits = read(z);
        values = LossHeads.value(head, logits, k, labels, targets);
        float[] dz = LossHeads.logitGradient(head, logits, k, labels, targets);
        NDArray weight = step.create(dz, z.getShape());
        gc.backward(z.mul(weight).sum());
      }
      float[] grad;
      try (NDArray g = xs.getGradient()) {
        grad = read(g);
      }
      return new LossGradient(logits, values, grad);
    } finally {
      net.setTrainable(wasTrainable);
    }
  }

  /**
   * {@code x} as an array in {@code step} that wraps the adapter's staging buffer (valid until the
   * next call; nothing keeps it past {@code step}: the forward graph is freed with it).
   */
  private NDArray input(NDManager step, ImageBatch x) {
    float[] data = x.data();
    int bytes = data.length * Float.BYTES;
    if (staging == null || staging.capacity() < bytes) {
      staging = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
    }
    ByteBuffer view = staging.duplicate().order(ByteOrder.nativeOrder());
    view.clear().limit(bytes);
    view.asFloatBuffer().put(data);
    return step.create(
        view.slice().order(ByteOrder.nativeOrder()),
        new Shape(x.n(), x.c(), x.h(), x.w()),
        DataType.FLOAT32);
  }

  /**
   * The values of a float32 array, copied once: read through a view of the tensor's memory ({@code
   * toFloatArray()} first copies into a new direct buffer, then into the Java array).
   */
  private static float[] read(NDArray a) {
    FloatBuffer view = a.toByteBuffer(true).order(ByteOrder.nativeOrder()).asFloatBuffer();
    float[] out = new float[view.remaining()];
    view.get(out);
    return out;
  }

  private void check(ImageBatch x) {
    var s = net.spec();
    if (x.c() != s.channels() || x.h() != s.height() || x.w() != s.width()) {
      throw new IllegalArgumentException(
          "images must be "
              + s.channels()
              + "x"
              + s.height()
              + "x"
              + s.width()
              + ", were "
              + x.c()
              + "x"
              + x.h()
              + "x"
              + x.w());
    }
  }
}
