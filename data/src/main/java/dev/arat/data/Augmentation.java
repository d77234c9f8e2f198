package dev.arat.data;

import java.util.SplittableRandom;

/**
 * Seeded training-time augmentation of a batch, in plain Java: random crop with zero padding, then
 * random horizontal flip, per image (torchvision's {@code RandomCrop(size, padding=p)} followed by
 * {@code RandomHorizontalFlip()}, the CIFAR recipe of ARAT-METHOD.md §4 with {@code p = 4}).
 *
 * <p>For each image, in this order, the generator draws the crop offsets {@code dy} then {@code
 * dx}, each uniform in {@code [0, 2p]} (only when {@code p > 0}), then one boolean for the flip
 * (only when {@code flip}). The output pixel {@code (y,x)} is the input pixel {@code (y+dy-p,
 * x+dx-p)}, or 0 where that falls outside the image (the zero padding); a flipped image then reads
 * column {@code w-1-x}. The same generator state therefore gives the same batch on any machine, and
 * every output value is an input value or 0, so {@code [0,1]} inputs stay in {@code [0,1]}.
 *
 * @param padding zero padding {@code p} on every side, {@code >= 0}; 0 disables the crop
 * @param flip whether to flip horizontally with probability 1/2
 */
public record Augmentation(int padding, boolean flip) {
  /** Validates. */
  public Augmentation {
    if (padding < 0) {
      throw new IllegalArgumentException("random_crop_padding: must be >= 0, was " + padding);
    }
  }

  /** No augmentation. */
  public static final Augmentation NONE = new Augmentation(0, false);

  /** The CIFAR recipe: 4-pixel padded random crop and horizontal flip. */
  public static final Augmentation CIFAR = new Augmentation(4, true);

  /** Whether {@link #apply} changes anything. */
  public boolean isIdentity() {
    return padding == 0 && !flip;
  }

  /**
   * Augments a batch.
   *
   * @param batch float32 {@code (n,c,h,w)} row-major; not modified
   * @param n images
   * @param c channels
   * @param h height
   * @param w width
   * @param rng the generator; advanced by 2 ints per image for the crop and 1 boolean for the flip
   * @return a new array of the same shape
   */
  public float[] apply(float[] batch, int n, int c, int h, int w, SplittableRandom rng) {
    int per = c * h * w;
    if (batch.length != (long) n * per) {
      throw new IllegalArgumentException(
          "batch has " + batch.length + " values, expected " + n + "x" + c + "x" + h + "x" + w);
    }
    float[] out = new float[batch.length];
    for (int i = 0; i < n; i++) {
      int dy = padding > 0 ? rng.nextInt(2 * padding + 1) - padding : 0;
      int dx = padding > 0 ? rng.nextInt(2 * padding + 1) - padding : 0;
      boolean mirror = flip && rng.nextBoolean();
      int base = i * per;
      for (int ch = 0; ch < c; ch++) {
        int plane = base + ch * h * w;
        for (int y = 0; y < h; y++) {
          int sy = y + dy;
          if (sy < 0 || sy >= h) {
            continue; // zero row
          }
          int dst = plane + y * w;
          int src = plane + sy * w;
          for (int x = 0; x < w; x++) {
            int sx = (mirror ? w - 1 - x : x) + dx;
            if (sx >= 0 && sx < w) {
              out[dst + x] = batch[src + sx];
            }
          }
        }
      }
    }
    return out;
  }
}
