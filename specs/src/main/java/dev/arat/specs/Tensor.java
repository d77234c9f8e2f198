package dev.arat.specs;

import java.util.Arrays;

/**
 * A dense float32 tensor in row-major (C) order, as stored in checkpoints.
 *
 * @param shape dimensions, outermost first; an empty shape is a scalar
 * @param data {@code product(shape)} values in row-major order
 */
public record Tensor(long[] shape, float[] data) {
  /** Checks that the data length matches the shape. */
  public Tensor {
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
      }
      n =
          d == 0 || n <= Integer.MAX_VALUE / d
              ? n * d
              : Long.MAX_VALUE; // no overflow past any array
    }
    if (n != data.length) {
      throw new IllegalArgumentException(
          "shape "
              + Arrays.toString(shape)
              + " needs "
              + (n == Long.MAX_VALUE ? "more than 2^31" : n)
              + " values, got "
              + data.length);
    }
  }

  /** Number of elements. */
  public int size() {
    return data.length;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Tensor t && Arrays.equals(shape, t.shape) && Arrays.equals(data, t.data);
  }

  @Override
  public int hashCode() {
    return 31 * Arrays.hashCode(shape) + Arrays.hashCode(data);
  }

  @Override
  public String toString() {
    return "Tensor" + Arrays.toString(shape);
  }
}
