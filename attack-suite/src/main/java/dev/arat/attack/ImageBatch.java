package dev.arat.attack;

/**
 * A batch of images: float32, NCHW, row-major, values in {@code [0,1]}.
 *
 * @param data {@code n * c * h * w} values
 * @param n images
 * @param c channels
 * @param h height
 * @param w width
 */
public record ImageBatch(float[] data, int n, int c, int h, int w) {
  /** Checks the length. */
  public ImageBatch {
    if (n < 0 || c <= 0 || h <= 0 || w <= 0 || data.length != (long) n * c * h * w) {
      throw new IllegalArgumentException(
          "batch of "
              + n
              + "x"
              + c
              + "x"
              + h
              + "x"
              + w
              + " needs "
              + ((long) n * c * h * w)
              + " values, got "
              + data.length);
    }
  }

  /** Values per image, {@code c*h*w}. */
  public int imageSize() {
    return c * h * w;
  }

  /** A batch with the same geometry holding {@code values} (must have the same length). */
  public ImageBatch with(float[] values) {
    return new ImageBatch(values, n, c, h, w);
  }

  /** The images at {@code rows}, in that order. */
  public ImageBatch select(int[] rows) {
    int per = imageSize();
    float[] out = new float[rows.length * per];
    for (int i = 0; i < rows.length; i++) {
      System.arraycopy(data, rows[i] * per, out, i * per, per);
    }
    return new ImageBatch(out, rows.length, c, h, w);
  }

  /** A deep copy. */
  public ImageBatch copy() {
    return new ImageBatch(data.clone(), n, c, h, w);
  }
}
