package dev.arat.trainer.nn;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.LayerSpec;
import dev.arat.specs.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A network built from an {@link ArchitectureSpec}, with split BatchNorm and optional ARAT
 * predictors, computed with DJL's functional operators on the PyTorch engine.
 *
 * <p>The network owns its weights as named NDArrays (names exactly per the {@link ArchitectureSpec}
 * contract: {@code conv1.weight}, {@code bn1.adv.running_var}, {@code predictor.fc1.fc2.bias}, ...)
 * in its own NDManager. It is deliberately not a DJL {@code Block} tree: the names are the contract
 * and need no mapping, the BN branch and mode travel as explicit arguments of {@link #forward}
 * (nothing can drop them the way {@code SequentialBlock} drops forward parameters), and freezing is
 * {@link #setTrainable}.
 *
 * <p>Every forward call takes the {@link Branch} (which BN set) and {@code train} (BN uses batch
 * statistics and updates its running statistics, as PyTorch's {@code train()} mode; otherwise it
 * uses the running statistics). Without split-BN only the {@code adv} set exists and both branches
 * use it. Predictor BN1d always runs in train mode (ARAT-METHOD §1.4).
 *
 * <p>BatchNorm follows PyTorch: {@code running = (1-m)·running + m·batch} with {@code m} the spec's
 * momentum (0.1), the running variance updated with the unbiased batch variance, normalisation with
 * the biased one; the computation is libtorch's own {@code batch_norm}. (DJL's momentum argument is
 * the opposite convention, so {@code 1-m} is passed; as a float this differs from PyTorch's double
 * {@code m} by at most 3e-8.)
 *
 * <p>Initialisation ({@link Init}) is PyTorch's default or the WideResNet code's, seeded per weight
 * name; see {@link InitialWeights}.
 *
 * <p>Memory layout: on the CPU, 4-D activations and spatial conv weights live in channels-last
 * memory (NHWC order behind the logical NCHW shape; {@link ChannelsLast}), so libtorch's oneDNN
 * convolutions skip their per-call reorders; 1×1 convolutions are then matrix products ({@link
 * ChannelsLast#pointwiseConv}, because libtorch 2.7.1's channels-last 1×1 kernel is wrong on
 * AVX-512 CPUs). Shapes, values, names and everything read out are as with NCHW; only float
 * rounding differs.
 *
 * <p>Activations must live in a per-step sub-manager: pass inputs created in a sub-manager; every
 * result then belongs to it (an op's result belongs to its first operand's manager).
 */
public final class SplitBnNetwork implements AutoCloseable {

  /** Which BatchNorm set a forward pass uses. */
  public enum Branch {
    /** The adversarial BN set: the deployed model (ARAT-METHOD Decision 4). */
    ADV("adv"),
    /** The clean (auxiliary) BN set, used by ARAT's clean CE and clean features. */
    CLEAN("clean");

    private final String key;

    Branch(String key) {
      this.key = key;
    }

    /** The weight-name component, {@code adv} or {@code clean}. */
    public String key() {
      return key;
    }
  }

  /**
   * What one forward pass returns.
   *
   * @param logits {@code (N, numClasses)} logits
   * @param features tap name to {@code GAP(ReLU(layer output))}, {@code (N, C)}; empty when not
   *     requested
   */
  public record Output(NDArray logits, Map<String, NDArray> features) {}

  private final ArchitectureSpec spec;
  private final boolean splitBn;
  private final List<String> taps;
  private final Map<String, Integer> tapDims = new LinkedHashMap<>();
  private final boolean predictors;
  private final NDManager manager;
  private final Map<String, NDArray> params = new LinkedHashMap<>();

  /** Final after construction (the constructor may fall back to NCHW). */
  private boolean channelsLast;

  /** Every spatial (k > 1) convolution, as {@link #forward} runs it. */
  private final List<ChannelsLastCheck.Geometry> convGeometries = new ArrayList<>();

  private final Set<String> trainable = new LinkedHashSet<>();
  private final NDArray mean;
  private final NDArray std;
  private final float torchMomentum;
  private final Init init;
  private boolean isTrainable = true;
  private Float momentumOverride;

  /** Weight initialisation schemes. */
  public enum Init {
    /** PyTorch's default for Conv2d and Linear. */
    TORCH_DEFAULT,
    /** The WideResNet code's: conv ~ N(0, sqrt(2/(k²·out))), linear bias 0. */
    WRN;

    /** {@link #WRN} for {@code wrn-*} architectures, else {@link #TORCH_DEFAULT}. */
    public static Init forArchitecture(String name) {
      return name != null && name.startsWith("wrn-") ? WRN : TORCH_DEFAULT;
    }
  }

  /**
   * Builds and initialises the network with PyTorch's default initialisation.
   *
   * @see #SplitBnNetwork(ArchitectureSpec, boolean, List, double, long, NDManager, Init)
   */
  public SplitBnNetwork(
      ArchitectureSpec spec,
      boolean splitBn,
      List<String> taps,
      double predictorRatio,
      long seed,
      NDManager parent) {
    this(spec, splitBn, taps, predictorRatio, seed, parent, Init.TORCH_DEFAULT);
  }

  /**
   * Builds and initialises the network.
   *
   * @param spec the architecture
   * @param splitBn whether every BN has an {@code adv} and a {@code clean} set (otherwise only
   *     {@code adv})
   * @param taps layers whose features {@link #forward} returns when asked (may be empty)
   * @param predictorRatio hidden width of one predictor MLP per tap as a fraction of the feature
   *     dimension; {@code <= 0} means no predictors
   * @param seed the initialisation seed
   * @param parent the manager the network's own manager is created under (its device is the
   *     network's device)
   * @param init the initialisation scheme of the backbone
   */
  public SplitBnNetwork(
      ArchitectureSpec spec,
      boolean splitBn,
      List<String> taps,
      double predictorRatio,
      long seed,
      NDManager parent,
      Init init) {
    this(
        spec,
        splitBn,
        taps,
        predictorRatio,
        seed,
        parent,
        init,
        ChannelsLast.usedOn(parent.getDevice()));
    if (channelsLast) {
      ChannelsLastCheck.Geometry wrong =
          ChannelsLastCheck.firstDisagreement(convGeometries, manager);
      if (wrong != null) {
        warnOnce(
            "libtorch's channels-last convolution disagrees with NCHW on this machine for "
                + "conv "
                + wrong
                + "; using NCHW (slower, correct)");
        Map<String, Tensor> values = toTensors();
        channelsLast = false;
        load(values);
      }
    }
  }

  /** As the public constructor, with the memory layout chosen (tests compare the two). */
  SplitBnNetwork(
      ArchitectureSpec spec,
      boolean splitBn,
      List<String> taps,
      double predictorRatio,
      long seed,
      NDManager parent,
      Init init,
      boolean channelsLast) {
    this.spec = spec;
    this.channelsLast = channelsLast;
    this.init = init == null ? Init.TORCH_DEFAULT : init;
    this.splitBn = splitBn;
    this.taps = List.copyOf(taps);
    Set<String> names = new TreeSet<>();
    spec.allLayers().forEach(l -> names.add(l.name()));
    for (String t : this.taps) {
      if (!names.contains(t)) {
        throw new IllegalArgumentException("taps: no layer named '" + t + "' in " + spec.name());
      }
    }
    this.predictors = predictorRatio > 0 && !this.taps.isEmpty();
    this.manager = parent.newSubManager();
    this.torchMomentum = (float) (1.0 - spec.bnMomentum());
    int c = spec.channels();
    float[] m = spec.mean().clone();
    float[] s = spec.std().clone();
    this.mean = manager.create(m, new Shape(1, c, 1, 1));
    this.std = manager.create(s, new Shape(1, c, 1, 1));
    InitialWeights initial =
        InitialWeights.of(spec, splitBn, this.taps, predictors, predictorRatio, seed, this.init);
    tapDims.putAll(initial.tapDims());
    convGeometries.addAll(initial.convGeometries());
    for (Map.Entry<String, Tensor> e : initial.weights().entrySet()) {
      params.put(e.getKey(), newWeight(e.getValue()));
      if (initial.isTrainable(e.getKey())) {
        trainable.add(e.getKey());
      }
    }
    setTrainable(true);
  }

  /** The architecture. */
  public ArchitectureSpec spec() {
    return spec;
  }

  /** Whether the BN layers have separate {@code adv} and {@code clean} sets. */
  public boolean splitBn() {
    return splitBn;
  }

  /** Whether the network has one predictor MLP per tap. */
  public boolean hasPredictors() {
    return predictors;
  }

  /** The tapped layers, in order. */
  public List<String> taps() {
    return taps;
  }

  /** Feature dimension {@code d} of each tap. */
  public Map<String, Integer> tapDims() {
    return Collections.unmodifiableMap(tapDims);
  }

  /** Every weight (trainable parameters and BN running statistics), by contract name. */
  public Map<String, NDArray> parameters() {
    return Collections.unmodifiableMap(params);
  }

  /** Names of the weights the optimizer updates (everything except BN running statistics). */
  public Set<String> trainableNames() {
    return Collections.unmodifiableSet(trainable);
  }

  // ---------------------------------------------------------------- forward

  /**
   * Runs the network.
   *
   * @param x images {@code (N,C,H,W)} in {@code [0,1]}, living in a per-step sub-manager
   * @param branch which BN set
   * @param train BN in train mode (batch statistics; running statistics updated in place)
   * @param withFeatures whether to return the tap features
   * @return logits {@code (N,K)} and, if asked, features {@code (N,d)} per tap
   */
  public Output forward(NDArray x, Branch branch, boolean train, boolean withFeatures) {
    Shape s = x.getShape();
    if (s.dimension() != 4
        || s.get(1) != spec.channels()
        || s.get(2) != spec.height()
        || s.get(3) != spec.width()) {
      throw new IllegalArgumentException(
          "input must be (N,"
              + spec.channels()
              + ","
              + spec.height()
              + ","
              + spec.width()
              + "), was "
              + s);
    }
    Map<String, NDArray> feats = withFeatures ? new LinkedHashMap<>() : null;
    NDArray h = x.sub(mean).div(std);
    if (channelsLast) {
      h = ChannelsLast.convert(h);
    }
    h = run(spec.layers(), h, branch, train, feats);
    return new Output(h, feats == null ? Map.of() : feats);
  }

  private NDArray run(
      List<LayerSpec> layers, NDArray h, Branch branch, boolean train, Map<String, NDArray> feats) {
    return new Forward(branch, train, feats).all(layers, h);
  }

  /** {@code GAP(ReLU(a))}: {@code (N,C,H,W) -> (N,C)}; identity on GAP for {@code (N,F)}. */
  private NDArray feature(NDArray a) {
    NDArray r = Activation.relu(a);
    return r.getShape().dimension() == 4 ? spatialMean(r) : r;
  }

  /**
   * Mean over H and W of {@code (N,C,H,W)}, as {@code (N,C)}: one reduction over a view (DJL's
   * PyTorch mean takes one axis), {@code (N,C,H·W)} for NCHW memory, {@code (N,H·W,C)} for NHWC.
   */
  private NDArray spatialMean(NDArray a) {
    Shape s = a.getShape();
    if (channelsLast) {
      return a.transpose(0, 2, 3, 1)
          .reshape(s.get(0), s.get(2) * s.get(3), s.get(1))
          .mean(new int[] {1});
    }
    return a.reshape(new Shape(s.get(0), s.get(1), s.get(2) * s.get(3))).mean(new int[] {2});
  }

  /**
   * One forward pass: each layer applied to its input activation with the given BN set and mode;
   * tap features collected into {@code feats} (when not null).
   */
  private final class Forward implements LayerSpec.Visitor<NDArray, NDArray> {
    private final Branch branch;
    private final boolean train;
    private final Map<String, NDArray> feats;

    Forward(Branch branch, boolean train, Map<String, NDArray> feats) {
      this.branch = branch;
      this.train = train;
      this.feats = feats;
    }

    NDArray all(List<LayerSpec> layers, NDArray h) {
      NDArray cur = h;
      for (LayerSpec l : layers) {
        cur = l.accept(this, cur);
        if (feats != null && taps.contains(l.name())) {
          feats.put(l.name(), feature(cur));
        }
      }
      return cur;
    }

    @Override
    public NDArray conv(LayerSpec.Conv conv, NDArray h) {
      NDArray b = conv.bias() ? p(conv.name() + ".bias") : null;
      if (channelsLast && conv.kernel() == 1 && conv.padding() == 0) {
        return ChannelsLast.pointwiseConv(h, p(conv.name() + ".weight"), b, conv.stride());
      }
      return Conv2d.conv2d(
              h,
              p(conv.name() + ".weight"),
              b,
              new Shape(conv.stride(), conv.stride()),
              new Shape(conv.padding(), conv.padding()),
              new Shape(1, 1),
              1)
          .singletonOrThrow();
    }

    @Override
    public NDArray batchNorm(LayerSpec.BatchNorm bn, NDArray h) {
      String prefix = bn.name() + "." + (splitBn ? branch.key() : Branch.ADV.key());
      return SplitBnNetwork.this.batchNorm(h, prefix, train);
    }

    @Override
    public NDArray relu(LayerSpec.Relu r, NDArray h) {
      return Activation.relu(h);
    }

    @Override
    public NDArray maxPool(LayerSpec.MaxPool mp, NDArray h) {
      return Pool.maxPool2d(
          h,
          new Shape(mp.kernel(), mp.kernel()),
          new Shape(mp.stride(), mp.stride()),
          new Shape(0, 0),
          false);
    }

    @Override
    public NDArray globalAvgPool(LayerSpec.GlobalAvgPool g, NDArray h) {
      Shape s = h.getShape();
      return spatialMean(h).reshape(new Shape(s.get(0), s.get(1), 1, 1));
    }

    @Override
    public NDArray flatten(LayerSpec.Flatten f, NDArray h) {
      return h.reshape(new Shape(h.getShape().get(0), -1));
    }

    @Override
    public NDArray linear(LayerSpec.Linear lin, NDArray h) {
      return SplitBnNetwork.this.linear(h, lin.name(), lin.bias());
    }

    @Override
    public NDArray residual(LayerSpec.Residual r, NDArray h) {
      NDArray pre = all(r.pre(), h);
      NDArray body = all(r.body(), pre);
      NDArray from = r.shortcutFromPre() ? pre : h;
      NDArray sc = r.shortcut().isEmpty() ? from : all(r.shortcut(), from);
      return body.add(sc);
    }
  }

  /**
   * Whether activations and spatial conv weights are in channels-last memory: on the CPU, unless
   * {@link ChannelsLastCheck} found libtorch's channels-last convolution wrong for one of this
   * network's convolutions on this machine (then NCHW, with a warning on standard error).
   */
  public boolean channelsLast() {
    return channelsLast;
  }

  private static final AtomicBoolean WARNED = new AtomicBoolean();

  private static void warnOnce(String message) {
    if (WARNED.compareAndSet(false, true)) {
      System.err.println("arat: warning: " + message);
    }
  }

  private NDArray batchNorm(NDArray h, String prefix, boolean train) {
    float djlMomentum = momentumOverride != null ? momentumOverride : torchMomentum;
    NDList out =
        BatchNorm.batchNorm(
            h,
            p(prefix + ".running_mean"),
            p(prefix + ".running_var"),
            p(prefix + ".weight"),
            p(prefix + ".bias"),
            -1,
            djlMomentum,
            (float) spec.bnEpsilon(),
            train);
    return out.singletonOrThrow();
  }

  private NDArray linear(NDArray h, String name, boolean bias) {
    return (bias
            ? Linear.linear(h, p(name + ".weight"), p(name + ".bias"))
            : Linear.linear(h, p(name + ".weight")))
        .singletonOrThrow();
  }

  /**
   * Applies tap {@code tap}'s predictor MLP: Linear(d→h, no bias), BatchNorm1d(h) in train mode,
   * ReLU, Linear(h→d).
   *
   * @param tap a tapped layer name
   * @param z features {@code (N,d)}, N ≥ 2 (BN1d in train mode needs two samples)
   * @return {@code (N,d)}
   */
  public NDArray predict(String tap, NDArray z) {
    if (!predictors) {
      throw new IllegalStateException("this network has no predictors");
    }
    String p = "predictor." + tap;
    NDArray a = linear(z, p + ".fc1", false);
    a = batchNorm(a, p + ".bn", true);
    a = Activation.relu(a);
    return linear(a, p + ".fc2", true);
  }

  /**
   * Overrides the PyTorch-convention BN momentum {@code m} of every BN layer (backbone and
   * predictors) in train mode: {@code running = (1-m)·running + m·batch}. {@code m = 0} keeps the
   * running statistics unchanged while train mode still normalises with batch statistics (used for
   * side computations that must not change the training state); SWA's BN re-estimation sets {@code
   * m = b/(n+b)} per batch. {@code null} restores the spec's momentum.
   *
   * @param m momentum in {@code [0,1]}, or null
   */
  public void setBnMomentum(Double m) {
    if (m != null && !(m >= 0 && m <= 1)) {
      throw new IllegalArgumentException("BN momentum must be in [0,1], was " + m);
    }
    momentumOverride = m == null ? null : (float) (1.0 - m);
  }

  /**
   * Names of the backbone's conv and linear weight tensors ({@code <layer>.weight}, no biases, no
   * BN, no predictors) in layer order: the parameter set W of the gradient-conflict metric
   * (ARAT-METHOD §7).
   */
  public List<String> convLinearWeightNames() {
    List<String> out = new ArrayList<>();
    for (LayerSpec l : spec.allLayers()) {
      if (l instanceof LayerSpec.Conv || l instanceof LayerSpec.Linear) {
        out.add(l.name() + ".weight");
      }
    }
    return out;
  }

  /** The initialisation scheme the network was built with. */
  public Init init() {
    return init;
  }

  private NDArray p(String name) {
    NDArray a = params.get(name);
    if (a == null) {
      throw new IllegalStateException("no weight " + name);
    }
    return a;
  }

  // ---------------------------------------------------------------- gradients, state

  /**
   * Switches gradient tracking of every trainable weight (freezing is {@code false}). Attacks run
   * with the weights frozen so their backward passes never add to the weights' gradients.
   */
  public void setTrainable(boolean on) {
    for (String n : trainable) {
      params.get(n).setRequiresGradient(on);
    }
    isTrainable = on;
  }

  /** Whether the trainable weights currently track gradients. */
  public boolean isTrainable() {
    return isTrainable;
  }

  /**
   * Sets the gradient of every trainable weight to zero by releasing it, as PyTorch's {@code
   * zero_grad(set_to_none=True)}: each weight is replaced by a fresh leaf over the same storage (no
   * pass over memory; the next backward writes the gradient instead of adding to zeros, and the
   * gradients' memory is free in between). {@code getGradient()} of a released gradient reads as
   * zeros. Look weights up in {@link #parameters()} after this call; earlier handles are closed.
   */
  public void zeroGradients() {
    for (Map.Entry<String, NDArray> e : params.entrySet()) {
      if (trainable.contains(e.getKey())) {
        replace(e, e.getValue().stopGradient());
      }
    }
  }

  /**
   * Puts {@code fresh} in place of entry {@code e}'s weight (closing the old NDArray) and gives it
   * gradient tracking when the weight is trainable and the network is not frozen.
   */
  private void replace(Map.Entry<String, NDArray> e, NDArray fresh) {
    NDArray old = e.getValue();
    if (trainable.contains(e.getKey()) && isTrainable) {
      fresh.setRequiresGradient(true);
    }
    e.setValue(fresh);
    old.close();
  }

  /**
   * A copy of {@code t} in memory libtorch allocates and reference-counts. DJL's {@code
   * create(float[])} wraps a Java direct buffer (from_blob) that only the returned NDArray keeps
   * alive; the weights must not depend on it, since {@link #zeroGradients} closes a weight's
   * NDArray while an alias of its storage lives on. In this network's manager and memory layout:
   * spatial conv weights {@code (O,I,kH,kW)} are channels-last when the activations are (values and
   * reads unchanged); optimizer state uses it too, to match its weight.
   *
   * @param t the values
   * @return a new array the caller owns (it belongs to {@link #manager()})
   */
  public NDArray newWeight(Tensor t) {
    long[] shape = t.shape();
    boolean spatialConv = shape.length == 4 && (shape[2] > 1 || shape[3] > 1);
    try (NDManager scratch = manager.newSubManager();
        NDArray wrapped = scratch.create(t.data(), new Shape(shape))) {
      NDArray owned = wrapped.duplicate();
      if (spatialConv && channelsLast) {
        // The layout libtorch gives the gradients of channels-last inputs: no conversions. Made
        // from the owned copy: where the permutation is a view (one input channel),
        // ChannelsLast.convert would otherwise alias the Java buffer freed below.
        owned = ChannelsLast.convert(owned);
      }
      owned.attach(manager);
      return owned;
    }
  }

  /**
   * A copy of every weight as engine-neutral tensors, by contract name (both BN sets, running
   * statistics, predictors).
   */
  public Map<String, Tensor> toTensors() {
    Map<String, Tensor> out = new LinkedHashMap<>();
    for (Map.Entry<String, NDArray> e : params.entrySet()) {
      out.put(
          e.getKey(), new Tensor(e.getValue().getShape().getShape(), e.getValue().toFloatArray()));
    }
    return out;
  }

  /**
   * Replaces every weight with {@code weights}, which must hold exactly this network's names and
   * shapes.
   *
   * @throws IllegalArgumentException naming missing, unexpected or mis-shaped weights
   */
  public void load(Map<String, Tensor> weights) {
    List<String> problems = new ArrayList<>();
    for (Map.Entry<String, NDArray> e : params.entrySet()) {
      Tensor t = weights.get(e.getKey());
      if (t == null) {
        problems.add("missing " + e.getKey());
      } else if (!Arrays.equals(t.shape(), e.getValue().getShape().getShape())) {
        problems.add(
            e.getKey()
                + " has shape "
                + Arrays.toString(t.shape())
                + ", expected "
                + e.getValue().getShape());
      }
    }
    for (String k : weights.keySet()) {
      if (!params.containsKey(k)) {
        problems.add("unexpected " + k);
      }
    }
    if (!problems.isEmpty()) {
      throw new IllegalArgumentException(
          "weights do not fit "
              + spec.name()
              + (splitBn ? " (split-BN)" : "")
              + ": "
              + String.join(", ", problems));
    }
    for (Map.Entry<String, NDArray> e : params.entrySet()) {
      replace(e, newWeight(weights.get(e.getKey())));
    }
  }

  /**
   * Replaces every weight (trainable parameters and BN running statistics) with a copy of {@code
   * source}'s, on this network's device: how data-parallel replicas follow the primary. Both must
   * hold the same names and shapes (networks built from the same recipe and architecture do).
   * Gradients are released; gradient tracking stays as it was.
   *
   * @throws IllegalArgumentException when the weight names differ
   */
  public void copyFrom(SplitBnNetwork source) {
    if (!source.params.keySet().equals(params.keySet())) {
      throw new IllegalArgumentException("copyFrom: the networks have different weights");
    }
    Device device = manager.getDevice();
    for (Map.Entry<String, NDArray> e : params.entrySet()) {
      NDArray copy;
      try (NDArray detached = source.params.get(e.getKey()).stopGradient()) {
        // toDevice(same device, copy=true) returns the same storage on the PyTorch engine
        copy =
            detached.getDevice().equals(device)
                ? detached.duplicate()
                : detached.toDevice(device, true);
      }
      copy.attach(manager);
      replace(e, copy);
    }
  }

  /** The manager owning the weights; create per-step sub-managers from it. */
  public NDManager manager() {
    return manager;
  }

  /** Frees the weights. */
  @Override
  public void close() {
    manager.close();
  }
}
