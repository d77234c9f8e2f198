package dev.arat.specs;

/**
 * The shape of one sample's activation between two layers: {@code (C,H,W)} before a {@link
 * LayerSpec.Flatten}, {@code (F)} after it (the batch axis {@code N} is left out). {@link
 * LayerSpec#outputShape} maps a layer's input shape to its output shape; the trainer, the exporter
 * and {@link ArchitectureSpec} all take shapes from there.
 */
public sealed interface ActivationShape {

  /**
   * The channel count {@code C} of a spatial activation, or the feature count {@code F} of a flat
   * one: what a BatchNorm normalises over and what an invariance tap's feature vector holds.
   */
  int channels();

  /** A human-readable form such as {@code (N,64,8,8)} or {@code (N,10)}. */
  String describe();

  /** The input shape of a network taking {@code (N,channels,height,width)} images. */
  static ActivationShape image(int channels, int height, int width) {
    return new Spatial(channels, height, width);
  }

  /**
   * A spatial activation {@code (N,C,H,W)}.
   *
   * @param channels C
   * @param height H in pixels
   * @param width W in pixels
   */
  record Spatial(int channels, int height, int width) implements ActivationShape {
    @Override
    public String describe() {
      return "(N," + channels + "," + height + "," + width + ")";
    }
  }

  /**
   * A flat activation {@code (N,F)}.
   *
   * @param features F
   */
  record Flat(int features) implements ActivationShape {
    @Override
    public int channels() {
      return features;
    }

    @Override
    public String describe() {
      return "(N," + features + ")";
    }
  }
}
