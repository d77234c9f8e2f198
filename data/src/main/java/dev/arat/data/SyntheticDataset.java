package dev.arat.data;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A seeded, learnable image set for tests: each class is a fixed random low-frequency template; an
 * image is its class template plus uniform noise, clipped to {@code [0,1]}.
 */
public final class SyntheticDataset {
  private SyntheticDataset() {}

  /**
   * Generates {@code n} images of shape {@code (c,h,w)} over {@code classes} classes.
   *
   * @param seed the seed of templates, labels and noise; the templates depend on the geometry and
   *     class count only, so train and test sets made with different seeds share them
   */
  public static ImageDataset generate(long seed, int n, int c, int h, int w, int classes) {
    SplittableRandom templateRng =
        new SplittableRandom(0x5eed ^ (c * 31L + h) * 31 + w * 7L + classes);
    int per = c * h * w;
    float[][] templates = new float[classes][per];
    for (int k = 0; k < classes; k++) {
      // A 4x4 grid of random intensities per channel, upsampled: low frequency, easy to learn.
      float[] coarse = new float[c * 16];
      for (int i = 0; i < coarse.length; i++) {
        coarse[i] = (float) templateRng.nextDouble(0.15, 0.85);
      }
      for (int ch = 0; ch < c; ch++) {
        for (int y = 0; y < h; y++) {
          for (int x = 0; x < w; x++) {
            templates[k][(ch * h + y) * w + x] = coarse[ch * 16 + (y * 4 / h) * 4 + (x * 4 / w)];
          }
        }
      }
    }
    SplittableRandom rng = new SplittableRandom(seed);
    float[] pixels = new float[n * per];
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      int k = i % classes;
      labels[i] = k;
      for (int j = 0; j < per; j++) {
        float v = templates[k][j] + (float) rng.nextDouble(-0.25, 0.25);
        pixels[i * per + j] = Math.min(1f, Math.max(0f, v));
      }
    }
    List<String> names = new ArrayList<>();
    for (int k = 0; k < classes; k++) {
      names.add("class" + k);
    }
    return new ImageDataset("synthetic", c, h, w, classes, names, pixels, labels);
  }
}
