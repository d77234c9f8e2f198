package dev.arat.trainer.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.arat.specs.Tensor;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Stochastic gradient descent with momentum, weight decay and optional Nesterov, with PyTorch's
 * semantics and a state (momentum buffers) that can be saved and restored.
 *
 * <p>Per trainable weight {@code w} with gradient {@code g}: {@code d = g + wd·w}; {@code v = d} on
 * the first step, then {@code v = μ·v + d}; {@code w ← w − lr·v}, or with Nesterov {@code w ← w −
 * lr·(d + μ·v)}. Weight decay applies to every trainable weight (BN affine, biases, predictors), as
 * in the paper's code. Gradients are zero after the update (released, see {@link
 * SplitBnNetwork#zeroGradients}).
 */
public final class Sgd {
  private final SplitBnNetwork net;
  private final double momentum;
  private final double weightDecay;
  private final boolean nesterov;
  private final Map<String, NDArray> buffers = new LinkedHashMap<>();

  /**
   * Creates the optimizer over {@code net}'s trainable weights.
   *
   * @param net the network
   * @param momentum μ in {@code [0,1)}
   * @param weightDecay L2 coefficient {@code >= 0}
   * @param nesterov Nesterov momentum
   */
  public Sgd(SplitBnNetwork net, double momentum, double weightDecay, boolean nesterov) {
    this.net = net;
    this.momentum = momentum;
    this.weightDecay = weightDecay;
    this.nesterov = nesterov;
  }

  /**
   * Updates every trainable weight from its accumulated gradient with learning rate {@code lr},
   * then zeroes the gradients. A weight that took no part in the backward has a zero gradient
   * (PyTorch's {@code zero_grad(set_to_none=False)} semantics): it still decays and its momentum
   * still acts.
   *
   * @param lr the learning rate of this step
   * @param step a per-step sub-manager for temporaries
   */
  public void step(double lr, NDManager step) {
    step(lr, step, null);
  }

  /**
   * {@link #step(double, NDManager)} with the gradients given instead of read from the weights
   * (data-parallel training hands in the gradients summed over its replicas). They are consumed:
   * the update may overwrite them.
   *
   * @param gradients per trainable weight name, on the weights' device; null reads the weights' own
   *     gradients
   */
  public void step(double lr, NDManager step, Map<String, NDArray> gradients) {
    // Six passes over each weight's memory (PyTorch's foreach-free SGD makes four with its fused
    // alpha adds): the gradient is consumed in place, and instead of being zeroed it is released
    // by zeroGradients() below, so the next backward writes it fresh rather than adding to zeros.
    // The three scalars as 0-d arrays made once per step (DJL's mul(Number) makes and frees one
    // per call).
    NDArray decayFactor = step.create((float) weightDecay);
    NDArray momentumFactor = step.create((float) momentum);
    NDArray rate = step.create((float) lr);
    for (String name : net.trainableNames()) {
      NDArray w = net.parameters().get(name);
      NDArray d =
          gradients != null
              ? gradients.get(name)
              : w.getGradient(); // zeros when the weight took no part in the backward
      if (d == null) {
        throw new IllegalArgumentException("no gradient given for " + name);
      }
      d.attach(step);
      NDArray data = w.stopGradient(); // an alias of w's storage, outside autograd
      data.attach(step);
      if (weightDecay != 0) {
        try (NDArray decay = data.mul(decayFactor)) {
          d.addi(decay);
        }
      }
      NDArray update = d;
      if (momentum != 0) {
        NDArray v = buffers.get(name);
        if (v == null) {
          v = d.duplicate();
          v.attach(net.manager());
          buffers.put(name, v);
        } else {
          v.muli(momentumFactor).addi(d);
        }
        if (nesterov) {
          try (NDArray ahead = v.mul(momentumFactor)) {
            update = d.addi(ahead);
          }
        } else {
          update = v;
        }
      }
      try (NDArray scaled = update.mul(rate)) {
        data.subi(scaled);
      }
      // Temporaries are closed at once: one weight's worth of scratch memory stays hot in the
      // allocator instead of a whole model's worth being mapped afresh every step.
    }
    net.zeroGradients();
  }

  /** The momentum buffers as tensors, keyed by weight name (empty before the first step). */
  public Map<String, Tensor> state() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (Map.Entry<String, NDArray> e : buffers.entrySet()) {
      out.put(
          e.getKey(), new Tensor(e.getValue().getShape().getShape(), e.getValue().toFloatArray()));
    }
    return out;
  }

  /**
   * Restores momentum buffers saved by {@link #state}. Weights without a saved buffer start fresh
   * (as before their first step).
   *
   * @throws IllegalArgumentException for unknown names or shapes that do not match the weight
   */
  public void load(Map<String, Tensor> state) {
    for (NDArray v : buffers.values()) {
      v.close();
    }
    buffers.clear();
    for (Map.Entry<String, Tensor> e : state.entrySet()) {
      NDArray w = net.parameters().get(e.getKey());
      if (w == null || !net.trainableNames().contains(e.getKey())) {
        throw new IllegalArgumentException("optimizer state: no trainable weight " + e.getKey());
      }
      if (!Arrays.equals(w.getShape().getShape(), e.getValue().shape())) {
        throw new IllegalArgumentException(
            "optimizer state: "
                + e.getKey()
                + " has shape "
                + Arrays.toString(e.getValue().shape())
                + ", weight has "
                + w.getShape());
      }
      buffers.put(e.getKey(), net.newWeight(e.getValue()));
    }
  }
}
