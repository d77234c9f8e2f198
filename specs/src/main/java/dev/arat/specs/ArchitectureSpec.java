package dev.arat.specs;

import java.util.ArrayList;
import java.util.Arrays;
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
 *   <li>Weight names: see {@link LayerSpec}; for {@link LayerSpec.Residual} children are prefixed by
 *       nothing (child names are themselves unique). {@link #weightShapes} lists every name with
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
              + channels + "x" + height + "x" + width + ", classes " + numClasses);
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
    walk(layers, new int[] {channels, height, width}, out, null, splitBn);
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
    walk(layers, new int[] {channels, height, width}, new LinkedHashMap<>(), dims, false);
    Map<String, Integer> out = new LinkedHashMap<>();
    for (String t : taps) {
      out.put(t, dims.get(t));
    }
    return out;
  }

  /**
   * Propagates the activation shape {@code (C,H,W)} or {@code (F)} through {@code ls}, recording
   * weight shapes and each layer's output size.
   */
  private static int[] walk(
      List<LayerSpec> ls, int[] s, Map<String, long[]> w, Map<String, Integer> dims, boolean split) {
    for (LayerSpec l : ls) {
      s = walkOne(l, s, w, dims, split);
      if (dims != null) {
        dims.put(l.name(), s[0]);
      }
    }
    return s;
  }

  private static int[] walkOne(
      LayerSpec l, int[] s, Map<String, long[]> w, Map<String, Integer> dims, boolean split) {
    if (l instanceof LayerSpec.Conv c) {
      spatial(l, s);
      int k = c.kernel();
      w.put(c.name() + ".weight", new long[] {c.outChannels(), s[0], k, k});
      if (c.bias()) {
        w.put(c.name() + ".bias", new long[] {c.outChannels()});
      }
      int h = (s[1] + 2 * c.padding() - k) / c.stride() + 1;
      int wd = (s[2] + 2 * c.padding() - k) / c.stride() + 1;
      if (s[1] + 2 * c.padding() < k || s[2] + 2 * c.padding() < k) {
        throw new IllegalArgumentException(l.name() + ": input " + s[1] + "x" + s[2]
            + " is too small for the " + k + "x" + k + " kernel");
      }
      return new int[] {c.outChannels(), h, wd};
    } else if (l instanceof LayerSpec.BatchNorm) {
      for (String b : split ? new String[] {"adv", "clean"} : new String[] {"adv"}) {
        for (String p : new String[] {"weight", "bias", "running_mean", "running_var"}) {
          w.put(l.name() + "." + b + "." + p, new long[] {s[0]});
        }
      }
      return s;
    } else if (l instanceof LayerSpec.Relu) {
      return s;
    } else if (l instanceof LayerSpec.MaxPool p) {
      spatial(l, s);
      if (s[1] < p.kernel() || s[2] < p.kernel()) {
        throw new IllegalArgumentException(l.name() + ": input " + s[1] + "x" + s[2]
            + " is smaller than the pooling window " + p.kernel());
      }
      return new int[] {s[0], (s[1] - p.kernel()) / p.stride() + 1, (s[2] - p.kernel()) / p.stride() + 1};
    } else if (l instanceof LayerSpec.GlobalAvgPool) {
      spatial(l, s);
      return new int[] {s[0], 1, 1};
    } else if (l instanceof LayerSpec.Flatten) {
      return s.length == 1 ? s : new int[] {s[0] * s[1] * s[2]};
    } else if (l instanceof LayerSpec.Linear lin) {
      if (s.length != 1) {
        throw new IllegalArgumentException(l.name() + ": a linear layer needs a flattened input");
      }
      w.put(lin.name() + ".weight", new long[] {lin.outFeatures(), s[0]});
      if (lin.bias()) {
        w.put(lin.name() + ".bias", new long[] {lin.outFeatures()});
      }
      return new int[] {lin.outFeatures()};
    } else if (l instanceof LayerSpec.Residual r) {
      int[] p = walk(r.pre(), s, w, dims, split);
      int[] body = walk(r.body(), p, w, dims, split);
      int[] in = r.shortcutFromPre() ? p : s;
      int[] sc = walk(r.shortcut(), in, w, dims, split);
      if (!Arrays.equals(body, sc)) {
        throw new IllegalArgumentException(r.name() + ": the body gives " + Arrays.toString(body)
            + " but the shortcut gives " + Arrays.toString(sc));
      }
      return body;
    }
    throw new IllegalArgumentException("unknown layer type " + l);
  }

  private static void spatial(LayerSpec l, int[] s) {
    if (s.length != 3) {
      throw new IllegalArgumentException(l.name() + ": needs an (N,C,H,W) input, got (N," + s[0] + ")");
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
