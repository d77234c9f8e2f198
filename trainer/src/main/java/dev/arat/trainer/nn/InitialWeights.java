package dev.arat.trainer.nn;

import dev.arat.specs.ActivationShape;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.LayerSpec;
import dev.arat.specs.Tensor;
import dev.arat.trainer.nn.SplitBnNetwork.Init;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The initial weights of a {@link SplitBnNetwork}: one walk over the {@link ArchitectureSpec}
 * creating each layer's weights for its input shape, then the predictor MLPs of the taps.
 *
 * <p>Initialisation ({@link Init#TORCH_DEFAULT}) is PyTorch's default, seeded: conv and linear
 * weights uniform in {@code ±1/sqrt(fan_in)} (Kaiming-uniform with a=√5), biases uniform in {@code
 * ±1/sqrt(fan_in)}, BN gamma 1, beta 0, running mean 0, running variance 1. {@link Init#WRN} is the
 * WideResNet code's init (ARAT-METHOD §4): conv weights normal with mean 0 and std {@code
 * sqrt(2/(k·k·out_channels))}, linear biases 0, the rest as the default (predictors always use the
 * default). Each tensor draws from its own generator seeded by (seed, name), so the init of one
 * weight does not depend on the others.
 *
 * <p>The walk also records what the network needs besides the values: which weights are trainable
 * (all but BN running statistics), each tap's feature dimension, and every spatial convolution's
 * geometry (for {@link ChannelsLastCheck}).
 */
final class InitialWeights implements LayerSpec.Visitor<ActivationShape, ActivationShape> {
  private final long seed;
  private final Init init;
  private final boolean splitBn;
  private final List<String> taps;
  private final Map<String, Tensor> weights = new LinkedHashMap<>();
  private final Set<String> trainable = new LinkedHashSet<>();
  private final Map<String, Integer> tapDims = new LinkedHashMap<>();
  private final List<ChannelsLastCheck.Geometry> convGeometries = new ArrayList<>();

  private InitialWeights(long seed, Init init, boolean splitBn, List<String> taps) {
    this.seed = seed;
    this.init = init;
    this.splitBn = splitBn;
    this.taps = taps;
  }

  /**
   * Initialises every weight of the network {@code spec} describes.
   *
   * @param spec the architecture; its last layer must give {@code (N, numClasses)} logits
   * @param splitBn whether every BN has an {@code adv} and a {@code clean} set
   * @param taps tapped layer names (each must exist in {@code spec})
   * @param predictors whether to add one predictor MLP per tap
   * @param predictorRatio predictor hidden width as a fraction of the tap's feature dimension
   * @param seed the initialisation seed
   * @param init the backbone's scheme
   * @throws IllegalArgumentException when the last layer does not give the logits
   */
  static InitialWeights of(
      ArchitectureSpec spec,
      boolean splitBn,
      List<String> taps,
      boolean predictors,
      double predictorRatio,
      long seed,
      Init init) {
    InitialWeights w = new InitialWeights(seed, init, splitBn, taps);
    ActivationShape out = w.all(spec.layers(), spec.inputShape());
    if (!out.equals(new ActivationShape.Flat(spec.numClasses()))) {
      throw new IllegalArgumentException(
          spec.name()
              + ": the last layer must give (N,"
              + spec.numClasses()
              + ") logits, gives "
              + out.describe());
    }
    if (predictors) {
      for (String t : taps) {
        int d = w.tapDims.get(t);
        int h = Math.max(1, (int) (d * predictorRatio));
        String p = "predictor." + t;
        w.linear(p + ".fc1", d, h, false);
        w.batchNorm(p + ".bn", h);
        w.linear(p + ".fc2", h, d, true);
      }
    }
    return w;
  }

  /** Every weight's initial value, by contract name, in creation order. */
  Map<String, Tensor> weights() {
    return Collections.unmodifiableMap(weights);
  }

  /** Whether weight {@code name} is trained (false for BN running statistics). */
  boolean isTrainable(String name) {
    return trainable.contains(name);
  }

  /** Feature dimension {@code d} of each tap. */
  Map<String, Integer> tapDims() {
    return Collections.unmodifiableMap(tapDims);
  }

  /** Every spatial (k > 1) convolution, in layer order. */
  List<ChannelsLastCheck.Geometry> convGeometries() {
    return Collections.unmodifiableList(convGeometries);
  }

  private ActivationShape all(List<LayerSpec> layers, ActivationShape in) {
    ActivationShape s = in;
    for (LayerSpec l : layers) {
      s = l.accept(this, s);
      if (taps.contains(l.name())) {
        tapDims.put(l.name(), s.channels());
      }
    }
    return s;
  }

  @Override
  public ActivationShape conv(LayerSpec.Conv conv, ActivationShape input) {
    ActivationShape out = conv.outputShape(input);
    ActivationShape.Spatial s = (ActivationShape.Spatial) input; // outputShape checked it
    int in = s.channels();
    int k = conv.kernel();
    long fanIn = (long) in * k * k;
    long[] wShape = {conv.outChannels(), in, k, k};
    put(
        conv.name() + ".weight",
        init == Init.WRN
            ? normal(
                seed,
                conv.name() + ".weight",
                wShape,
                Math.sqrt(2.0 / ((double) k * k * conv.outChannels())))
            : uniform(seed, conv.name() + ".weight", wShape, fanIn),
        true);
    if (conv.bias()) {
      put(
          conv.name() + ".bias",
          uniform(seed, conv.name() + ".bias", new long[] {conv.outChannels()}, fanIn),
          true);
    }
    if (k > 1) {
      convGeometries.add(
          new ChannelsLastCheck.Geometry(
              in, s.height(), s.width(), conv.outChannels(), k, conv.stride(), conv.padding()));
    }
    return out;
  }

  @Override
  public ActivationShape batchNorm(LayerSpec.BatchNorm bn, ActivationShape in) {
    batchNorm(bn.name() + ".adv", in.channels());
    if (splitBn) {
      batchNorm(bn.name() + ".clean", in.channels());
    }
    return bn.outputShape(in);
  }

  @Override
  public ActivationShape relu(LayerSpec.Relu r, ActivationShape in) {
    return r.outputShape(in);
  }

  @Override
  public ActivationShape maxPool(LayerSpec.MaxPool mp, ActivationShape in) {
    return mp.outputShape(in);
  }

  @Override
  public ActivationShape globalAvgPool(LayerSpec.GlobalAvgPool g, ActivationShape in) {
    return g.outputShape(in);
  }

  @Override
  public ActivationShape flatten(LayerSpec.Flatten f, ActivationShape in) {
    return f.outputShape(in);
  }

  @Override
  public ActivationShape linear(LayerSpec.Linear lin, ActivationShape in) {
    ActivationShape out = lin.outputShape(in);
    linear(lin.name(), in.channels(), lin.outFeatures(), lin.bias());
    if (init == Init.WRN && lin.bias()) {
      String bias = lin.name() + ".bias";
      weights.put(bias, new Tensor(weights.get(bias).shape(), new float[lin.outFeatures()]));
    }
    return out;
  }

  @Override
  public ActivationShape residual(LayerSpec.Residual r, ActivationShape in) {
    // body(pre(x)) + shortcut(shortcutFromPre ? pre(x) : x)  (pre-activation units use pre)
    ActivationShape out = r.outputShape(in); // checks that the branches agree
    ActivationShape pre = all(r.pre(), in);
    all(r.body(), pre);
    all(r.shortcut(), r.shortcutFromPre() ? pre : in);
    return out;
  }

  private void linear(String name, int in, int out, boolean bias) {
    put(name + ".weight", uniform(seed, name + ".weight", new long[] {out, in}, in), true);
    if (bias) {
      put(name + ".bias", uniform(seed, name + ".bias", new long[] {out}, in), true);
    }
  }

  private void batchNorm(String prefix, int c) {
    float[] ones = new float[c];
    Arrays.fill(ones, 1f);
    put(prefix + ".weight", new Tensor(new long[] {c}, ones.clone()), true);
    put(prefix + ".bias", new Tensor(new long[] {c}, new float[c]), true);
    put(prefix + ".running_mean", new Tensor(new long[] {c}, new float[c]), false);
    put(prefix + ".running_var", new Tensor(new long[] {c}, ones.clone()), false);
  }

  private void put(String name, Tensor t, boolean train) {
    if (weights.containsKey(name)) {
      throw new IllegalArgumentException("duplicate weight name " + name);
    }
    weights.put(name, t);
    if (train) {
      trainable.add(name);
    }
  }

  /** PyTorch's default init: uniform in ±1/sqrt(fanIn), one generator per (seed, name). */
  private static Tensor uniform(long seed, String name, long[] shape, long fanIn) {
    double bound = 1.0 / Math.sqrt(fanIn);
    SplittableRandom rng = new SplittableRandom(mix(seed, name));
    float[] data = new float[size(shape)];
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) rng.nextDouble(-bound, bound);
    }
    return new Tensor(shape, data);
  }

  /** Normal(0, std) init, one generator per (seed, name). */
  private static Tensor normal(long seed, String name, long[] shape, double std) {
    SplittableRandom rng = new SplittableRandom(mix(seed, name));
    float[] data = new float[size(shape)];
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) (std * rng.nextGaussian());
    }
    return new Tensor(shape, data);
  }

  private static int size(long[] shape) {
    int n = 1;
    for (long d : shape) {
      n = Math.multiplyExact(n, (int) d);
    }
    return n;
  }

  /** The generator seed of weight {@code name}: SplitMix64's finaliser over (seed, name hash). */
  private static long mix(long seed, String name) {
    long h = 1125899906842597L;
    for (int i = 0; i < name.length(); i++) {
      h = 31 * h + name.charAt(i);
    }
    long z = seed * 0x9E3779B97F4A7C15L + h;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
