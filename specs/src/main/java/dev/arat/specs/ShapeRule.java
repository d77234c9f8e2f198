package dev.arat.specs;

import dev.arat.specs.ActivationShape.Flat;
import dev.arat.specs.ActivationShape.Spatial;

/** The output-shape formula of every layer type, behind {@link LayerSpec#outputShape}. */
final class ShapeRule implements LayerSpec.Visitor<ActivationShape, ActivationShape> {
  static final ShapeRule INSTANCE = new ShapeRule();

  private ShapeRule() {}

  @Override
  public ActivationShape conv(LayerSpec.Conv c, ActivationShape in) {
    Spatial s = spatial(c, in);
    int k = c.kernel();
    int p = c.padding();
    if (s.height() + 2 * p < k || s.width() + 2 * p < k) {
      throw new IllegalArgumentException(
          c.name()
              + ": input "
              + s.height()
              + "x"
              + s.width()
              + " is too small for the "
              + k
              + "x"
              + k
              + " kernel");
    }
    return new Spatial(
        c.outChannels(), slide(s.height(), k, c.stride(), p), slide(s.width(), k, c.stride(), p));
  }

  @Override
  public ActivationShape batchNorm(LayerSpec.BatchNorm b, ActivationShape in) {
    return in;
  }

  @Override
  public ActivationShape relu(LayerSpec.Relu r, ActivationShape in) {
    return in;
  }

  @Override
  public ActivationShape maxPool(LayerSpec.MaxPool m, ActivationShape in) {
    Spatial s = spatial(m, in);
    int k = m.kernel();
    if (s.height() < k || s.width() < k) {
      throw new IllegalArgumentException(
          m.name()
              + ": input "
              + s.height()
              + "x"
              + s.width()
              + " is smaller than the pooling window "
              + k);
    }
    return new Spatial(
        s.channels(), slide(s.height(), k, m.stride(), 0), slide(s.width(), k, m.stride(), 0));
  }

  @Override
  public ActivationShape globalAvgPool(LayerSpec.GlobalAvgPool g, ActivationShape in) {
    return new Spatial(spatial(g, in).channels(), 1, 1);
  }

  @Override
  public ActivationShape flatten(LayerSpec.Flatten f, ActivationShape in) {
    return in instanceof Spatial s ? new Flat(s.channels() * s.height() * s.width()) : in;
  }

  @Override
  public ActivationShape linear(LayerSpec.Linear l, ActivationShape in) {
    if (!(in instanceof Flat)) {
      throw new IllegalArgumentException(
          l.name()
              + ": a linear layer needs a flattened input, got "
              + in.describe()
              + " (add a flatten)");
    }
    return new Flat(l.outFeatures());
  }

  @Override
  public ActivationShape residual(LayerSpec.Residual r, ActivationShape in) {
    ActivationShape pre = LayerSpec.outputShape(r.pre(), in);
    ActivationShape body = LayerSpec.outputShape(r.body(), pre);
    ActivationShape shortcut = LayerSpec.outputShape(r.shortcut(), r.shortcutFromPre() ? pre : in);
    if (!body.equals(shortcut)) {
      throw new IllegalArgumentException(
          r.name()
              + ": the body gives "
              + body.describe()
              + " but the shortcut gives "
              + shortcut.describe());
    }
    return body;
  }

  /**
   * Output length of a {@code kernel}-wide window sliding by {@code stride} over {@code length}
   * positions padded by {@code padding} on each side (the caller checks the window fits).
   */
  private static int slide(int length, int kernel, int stride, int padding) {
    return (length + 2 * padding - kernel) / stride + 1;
  }

  private static Spatial spatial(LayerSpec l, ActivationShape in) {
    if (in instanceof Spatial s) {
      return s;
    }
    throw new IllegalArgumentException(
        l.name() + ": needs an (N,C,H,W) input, got " + in.describe());
  }
}
