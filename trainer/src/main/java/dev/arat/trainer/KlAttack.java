package dev.arat.trainer;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.arat.attack.AbstractAttack;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.Projections;
import dev.arat.attack.Seeds;
import dev.arat.specs.ThreatModel;
import dev.arat.trainer.nn.Autograd;
import dev.arat.trainer.nn.SplitBnNetwork;
import dev.arat.trainer.nn.SplitBnNetwork.Branch;
import java.util.SplittableRandom;

/**
 * TRADES' inner maximisation (Zhang et al. 2019): projected gradient ascent on {@code KL(f(x) ‖
 * f(x'))} with respect to x', the target distribution {@code f(x)} fixed. The attack-suite's {@code
 * Pgd} ascends a loss head on labels, so this KL attack lives here, on DJL arrays.
 *
 * <ul>
 *   <li>Start: {@code x' = x + 0.001·N(0,1)} per pixel (as the TRADES code; not clipped before the
 *       first step). Sample {@code i}'s draws come from {@link Seeds#forSample}{@code (seed,
 *       sampleIds[i])}, so they do not depend on the batch composition (the convention of {@code
 *       Pgd}).
 *   <li>Target: {@code p = softmax(f(x))}, computed once per batch (no gradient).
 *   <li>Step: the gradient of {@code Σ_i KL(p_i ‖ softmax(f(x'_i)))} (sum reduction, irrelevant to
 *       the direction); Linf: {@code x' += α·sign(g)}; L2: {@code x' += α·g/‖g‖₂} per image; then
 *       the projection onto the ε-ball around the untouched x and {@code [0,1]} ({@link
 *       Projections}). The last iterate is returned.
 *   <li>Model mode: the same as in-training PGD (ARAT-METHOD §2, P4): the given BN set in
 *       <em>train</em> mode (batch statistics; each forward, including the target's, updates that
 *       set's running statistics as PyTorch would), weights frozen for the duration so no parameter
 *       gradient accumulates. The TRADES code attacks in eval mode; this project uses one
 *       convention for all its adversarial-training methods.
 * </ul>
 *
 * <p>Gradients are recorded with {@link dev.arat.trainer.nn.Autograd} on the calling thread; the
 * network must not be used by another thread meanwhile.
 */
public final class KlAttack {
  /** The standard deviation of TRADES' random start. */
  public static final double START_STD = 0.001;

  private final ThreatModel threat;
  private final int steps;
  private final double stepSize;
  private final long seed;

  /**
   * Creates the attack.
   *
   * @param threat norm and ε (pixel units)
   * @param steps ascent steps, {@code > 0}
   * @param stepSize step length α, {@code > 0}
   * @param seed the seed of the random starts of this batch
   */
  public KlAttack(ThreatModel threat, int steps, double stepSize, long seed) {
    if (steps <= 0 || !(stepSize > 0)) {
      throw new IllegalArgumentException("kl attack: steps and step size must be > 0");
    }
    this.threat = threat;
    this.steps = steps;
    this.stepSize = stepSize;
    this.seed = seed;
  }

  /**
   * Crafts x' for a batch.
   *
   * @param net the network
   * @param branch which BN set
   * @param train BN in train mode
   * @param x clean images in {@code [0,1]} (not modified)
   * @param sampleIds a stable id per image seeding its random start
   * @return the last iterate, within ε of x and in {@code [0,1]}
   */
  public ImageBatch perturb(
      SplitBnNetwork net, Branch branch, boolean train, ImageBatch x, long[] sampleIds) {
    int n = x.n();
    int per = x.imageSize();
    if (sampleIds.length != n) {
      throw new IllegalArgumentException("one sample id per image");
    }
    float[] x0 = x.data();
    float[] cur = x0.clone();
    if (n == 0) {
      return x.with(cur);
    }
    for (int i = 0; i < n; i++) {
      SplittableRandom rng = Seeds.forSample(seed, sampleIds[i]);
      for (int j = i * per; j < (i + 1) * per; j++) {
        cur[j] = (float) (x0[j] + START_STD * rng.nextGaussian());
      }
    }
    Shape shape = new Shape(n, x.c(), x.h(), x.w());
    boolean wasTrainable = net.isTrainable();
    net.setTrainable(false);
    try (NDManager m = net.manager().newSubManager()) {
      NDArray target = net.forward(m.create(x0, shape), branch, train, false).logits();
      NDArray logP = target.logSoftmax(1).stopGradient();
      NDArray p = logP.exp();
      for (int t = 0; t < steps; t++) {
        float[] grad;
        try (NDManager s = m.newSubManager()) {
          NDArray xs = s.create(cur, shape);
          xs.setRequiresGradient(true);
          try (Autograd gc = Autograd.record()) {
            NDArray logQ = net.forward(xs, branch, train, false).logits().logSoftmax(1);
            NDArray kl = p.mul(logP.sub(logQ)).sum();
            gc.backward(kl);
          }
          grad = xs.getGradient().toFloatArray();
        }
        for (int i = 0; i < n; i++) {
          AbstractAttack.ascend(threat.norm(), stepSize, cur, grad, i * per, i * per, per);
          Projections.project(threat.norm(), threat.epsilon(), x0, cur, i * per, per);
        }
      }
    } finally {
      net.setTrainable(wasTrainable);
    }
    return x.with(cur);
  }
}
