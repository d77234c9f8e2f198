package dev.arat.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.arat.trainer.nn.Autograd;
import dev.arat.trainer.nn.SplitBnNetwork;
import dev.arat.trainer.nn.SplitBnNetwork.Branch;

/**
 * The in-training Linf PGD loop written directly on DJL arrays, as the reference the attack-suite
 * adapter path ({@code Pgd.perturb} over {@code NetworkClassifier}) is measured against.
 *
 * <p>Same computation as the adapter path: the network in the given BN branch and mode, weights
 * frozen, CE summed over the batch (its input gradient has the sign of the adapter's), then per
 * iteration {@code x ← clip(x + α·sign(∇), max(x0−ε,0), min(x0+ε,1))}. Differences, which are the
 * point of the comparison: the iterate stays a native array (no float[] round trip per iteration),
 * the weights are frozen once for the whole loop instead of per gradient call, the loss head and
 * its logit gradient are computed natively instead of in Java, and the random start is drawn
 * natively (uniform in the cube, not the attack suite's per-sample Java streams). The result is
 * copied out once, because the trainer's objective takes a float[] batch.
 */
public final class DirectPgd {
  private DirectPgd() {}

  /**
   * Runs PGD and returns the last iterate.
   *
   * @param net the network
   * @param branch BN set
   * @param train BN in train mode (batch statistics; running statistics updated, as in training)
   * @param x0 clean images {@code (N,C,H,W)} row-major in {@code [0,1]} (not modified)
   * @param labels true classes
   * @param shape {@code (N,C,H,W)}
   * @param eps Linf radius
   * @param alpha step size
   * @param steps iterations
   * @param randomStart start uniformly in the cube (clipped to [0,1]) instead of at x0
   * @return the adversarial images, row-major
   */
  public static float[] perturb(
      SplitBnNetwork net,
      Branch branch,
      boolean train,
      float[] x0,
      int[] labels,
      Shape shape,
      double eps,
      double alpha,
      int steps,
      boolean randomStart) {
    boolean was = net.isTrainable();
    net.setTrainable(false);
    int k = net.spec().numClasses();
    try (NDManager m = net.manager().newSubManager()) {
      NDArray x = m.create(x0, shape);
      NDArray lo = x.sub((float) eps).maximum(0f);
      NDArray hi = x.add((float) eps).minimum(1f);
      NDArray y = m.create(labels).oneHot(k);
      NDArray cur =
          randomStart
              ? x.add(m.randomUniform((float) -eps, (float) eps, shape)).minimum(hi).maximum(lo)
              : x.duplicate();
      for (int t = 0; t < steps; t++) {
        try (NDManager it = m.newSubManager()) {
          NDArray xs = cur.stopGradient();
          xs.attach(it);
          xs.setRequiresGradient(true);
          try (Autograd gc = Autograd.record()) {
            NDArray logits = net.forward(xs, branch, train, false).logits();
            NDArray loss = logits.logSoftmax(1).mul(y).sum().neg();
            gc.backward(loss);
          }
          NDArray next =
              xs.getGradient().sign().mul((float) alpha).add(cur).minimum(hi).maximum(lo);
          next.attach(m);
          cur.close();
          cur = next;
        }
      }
      return cur.toFloatArray();
    } finally {
      net.setTrainable(was);
    }
  }
}
