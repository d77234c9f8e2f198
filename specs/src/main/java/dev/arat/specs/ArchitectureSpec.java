package dev.arat.specs;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
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
 *       nothing (child names are themselves unique). ARAT predictors are stored as {@code
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

  /** Every layer in depth-first order, including the children of residual units. */
  public List<LayerSpec> allLayers() {
    return flatten(layers);
  }

  private static List<LayerSpec> flatten(List<LayerSpec> layers) {
    List<LayerSpec> out = new ArrayList<>();
    for (LayerSpec l : layers) {
      out.add(l);
      if (l instanceof LayerSpec.Residual r) {
        out.addAll(flatten(r.body()));
        out.addAll(flatten(r.shortcut()));
      }
    }
    return out;
  }
}
