package dev.arat.specs;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A classifier described as data: input geometry, in-network normalisation, layers and the layers
 * the ARAT invariance loss taps.
 *
 * <p>Contract shared by the trainer and the exporter:
 *
 * <ul>
 *   <li>Input: float32 {@code (N, channels, height, width)} in {@code [0,1]}. The network first
 *       computes {@code (x - mean[c]) / std[c]} per channel, so normalisation never lives in the
 *       data pipeline.
 *   <li>Output: logits {@code (N, numClasses)}, never probabilities.
 *   <li>Weight names: see {@link LayerSpec}; for {@link LayerSpec.Residual} children are prefixed
 *       by nothing (child names are themselves unique). {@link #weightShapes} lists every name with
 *       its shape for a given input geometry. ARAT predictors are stored as {@code
 *       predictor.<tap>.fc1.weight} {@code (h,d)}, {@code predictor.<tap>.bn.{weight,bias,
 *       running_mean,running_var}} {@code (h)}, {@code predictor.<tap>.fc2.weight} {@code (d,h)},
 *       {@code predictor.<tap>.fc2.bias} {@code (d)}.
 *   <li>An invariance tap names a layer; its feature is {@code GAP(ReLU(output of that layer))}, a
 *       {@code (N, C)} vector (ARAT-METHOD.md §1.3).
 * </ul>
 *
 * @param name a short identifier such as {@code small-cnn}
 * @param channels input channels
 * @param height input height in pixels
 * @param width input width in pixels
 * @param numClasses number of logits
 * @param mean per-channel mean subtracted inside the network
 * @param std per-channel standard deviation divided inside the network
 * @param layers the layers in order
 * @param taps names of the layers whose features the invariance loss aligns
 * @param bnEpsilon the BatchNorm epsilon of every BN layer (PyTorch default 1e-5)
 * @param bnMomentum the BatchNorm running-statistics momentum (PyTorch convention, 0.1)
 */
public record ArchitectureSpec(
    String name,
    int channels,
    int height,
    int width,
    int numClasses,
    float[] mean,
    float[] std,
    List<LayerSpec> layers,
    List<String> taps,
    double bnEpsilon,
    double bnMomentum) {

  /** Validates the geometry, unique names and that every tap names a layer. */
  public ArchitectureSpec {
    if (channels <= 0 || height <= 0 || width <= 0 || numClasses < 2) {
      throw new IllegalArgumentException(
          "input geometry and classes must be positive (classes >= 2): "
              + channels
              + "x"
              + height
              + "x"
              + width
              + ", classes "
              + numClasses);
    }
    if (mean == null || std == null || mean.length != channels || std.length != channels) {
      throw new IllegalArgumentException("mean/std: need one value per channel (" + channels + ")");
    }
    for (float s : std) {
      if (!(s > 0)) {
        throw new IllegalArgumentException("std: must be > 0, was " + s);
      }
    }
    layers = List.copyOf(layers);
    taps = taps == null ? List.of() : List.copyOf(taps);
    Set<String> names = new HashSet<>();
    for (LayerSpec l : flatten(layers)) {
      if (!names.add(l.name())) {
        throw new IllegalArgumentException("layers: duplicate layer name '" + l.name() + "'");
      }
    }
    for (String t : taps) {
      if (!names.contains(t)) {
        throw new IllegalArgumentException("taps: no layer named '" + t + "'");
      }
    }
  }

  /**
   * Every weight of the network with its shape, in layer order, as {@link LayerSpec} names them:
   * conv and linear {@code weight}/{@code bias}, and per BN layer {@code name.adv.*} (and {@code
   * name.clean.*} when {@code splitBn}) {@code weight}, {@code bias}, {@code running_mean}, {@code
   * running_var}. Predictors are not included.
   *
   * @param splitBn whether both BN branches exist
   * @throws IllegalArgumentException if the layers do not fit the input geometry (the message names
   *     the layer)
   */
  public Map<String, long[]> weightShapes(boolean splitBn) {
    Map<String, long[]> out = new LinkedHashMap<>();
    walk(layers, inputShape(), out, null, splitBn);
    return out;
  }

  /**
   * The number of trainable parameters: every entry of {@link #weightShapes} except BN running
   * statistics.
   *
   * @param splitBn whether both BN branches count
   */
  public long trainableParameterCount(boolean splitBn) {
    long n = 0;
    for (Map.Entry<String, long[]> e : weightShapes(splitBn).entrySet()) {
      if (e.getKey().endsWith(".running_mean") || e.getKey().endsWith(".running_var")) {
        continue;
      }
      long k = 1;
      for (long d : e.getValue()) {
        k *= d;
      }
      n += k;
    }
    return n;
  }

  /**
   * The feature dimension {@code d} of each invariance tap, in {@link #taps} order: the channel
   * count of the tapped layer's output ({@code GAP(ReLU(.))} gives {@code (N,d)}), or its feature
   * count after a flatten.
   */
  public Map<String, Integer> tapFeatureSizes() {
    Map<String, Integer> dims = new LinkedHashMap<>();
    walk(layers, inputShape(), new LinkedHashMap<>(), dims, false);
    Map<String, Integer> out = new LinkedHashMap<>();
    for (String t : taps) {
      out.put(t, dims.get(t));
    }
    return out;
  }

  /** The shape of the network's input, {@code (N, channels, height, width)}. */
  public ActivationShape inputShape() {
    return ActivationShape.image(channels, height, width);
  }

  /**
   * Propagates the activation shape through {@code ls}, recording weight shapes and each layer's
   * output size ({@link ActivationShape#channels}).
   */
  private ActivationShape walk(
      List<LayerSpec> ls,
      ActivationShape s,
      Map<String, long[]> w,
      Map<String, Integer> dims,
      boolean split) {
    WeightWalk v = new WeightWalk(w, dims, split);
    for (LayerSpec l : ls) {
      s = l.accept(v, s);
    }
    return s;
  }

  /** Records a layer's weight shapes and output size; returns its output shape. */
  private record WeightWalk(Map<String, long[]> w, Map<String, Integer> dims, boolean split)
      implements LayerSpec.Visitor<ActivationShape, ActivationShape> {

    private ActivationShape done(LayerSpec l, ActivationShape out) {
      if (dims != null) {
        dims.put(l.name(), out.channels());
      }
      return out;
    }

    @Override
    public ActivationShape conv(LayerSpec.Conv c, ActivationShape in) {
      ActivationShape out = c.outputShape(in);
      int k = c.kernel();
      w.put(c.name() + ".weight", new long[] {c.outChannels(), in.channels(), k, k});
      if (c.bias()) {
        w.put(c.name() + ".bias", new long[] {c.outChannels()});
      }
      return done(c, out);
    }

    @Override
    public ActivationShape batchNorm(LayerSpec.BatchNorm b, ActivationShape in) {
      for (String branch : split ? new String[] {"adv", "clean"} : new String[] {"adv"}) {
        for (String p : new String[] {"weight", "bias", "running_mean", "running_var"}) {
          w.put(b.name() + "." + branch + "." + p, new long[] {in.channels()});
        }
      }
      return done(b, b.outputShape(in));
    }

    @Override
    public ActivationShape relu(LayerSpec.Relu r, ActivationShape in) {
      return done(r, r.outputShape(in));
    }

    @Override
    public ActivationShape maxPool(LayerSpec.MaxPool m, ActivationShape in) {
      return done(m, m.outputShape(in));
    }

    @Override
    public ActivationShape globalAvgPool(LayerSpec.GlobalAvgPool g, ActivationShape in) {
      return done(g, g.outputShape(in));
    }

    @Override
    public ActivationShape flatten(LayerSpec.Flatten f, ActivationShape in) {
      return done(f, f.outputShape(in));
    }

    @Override
    public ActivationShape linear(LayerSpec.Linear l, ActivationShape in) {
      ActivationShape out = l.outputShape(in);
      w.put(l.name() + ".weight", new long[] {l.outFeatures(), in.channels()});
      if (l.bias()) {
        w.put(l.name() + ".bias", new long[] {l.outFeatures()});
      }
      return done(l, out);
    }

    @Override
    public ActivationShape residual(LayerSpec.Residual r, ActivationShape in) {
      ActivationShape out = r.outputShape(in); // validates the branches first
      ActivationShape pre = walkAll(r.pre(), in);
      walkAll(r.body(), pre);
      walkAll(r.shortcut(), r.shortcutFromPre() ? pre : in);
      return done(r, out);
    }

    private ActivationShape walkAll(List<LayerSpec> ls, ActivationShape s) {
      for (LayerSpec l : ls) {
        s = l.accept(this, s);
      }
      return s;
    }
  }

  /** Every layer in depth-first order, including the children of residual units. */
  public List<LayerSpec> allLayers() {
    return flatten(layers);
  }

  private static List<LayerSpec> flatten(List<LayerSpec> layers) {
    List<LayerSpec> out = new ArrayList<>();
    for (LayerSpec l : layers) {
      out.add(l);
      if (l instanceof LayerSpec.Residual r) {
        out.addAll(flatten(r.pre()));
        out.addAll(flatten(r.body()));
        out.addAll(flatten(r.shortcut()));
      }
    }
    return out;
  }
}
