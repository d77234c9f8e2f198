package dev.arat.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Seeded random crop with zero padding and horizontal flip. */
class AugmentationTest {
  /** A batch whose every value in (0,1] encodes (image, channel, row, column) uniquely. */
  static float[] batch(int n, int c, int h, int w) {
    float[] b = new float[n * c * h * w];
    for (int i = 0; i < b.length; i++) {
      b[i] = (i + 1f) / b.length;
    }
    return b;
  }

  @Test
  void sameGeneratorStateGivesTheSameBatch() {
    float[] x = batch(8, 3, 6, 6);
    Augmentation a = Augmentation.CIFAR;
    float[] y1 = a.apply(x, 8, 3, 6, 6, new SplittableRandom(5));
    float[] y2 = a.apply(x, 8, 3, 6, 6, new SplittableRandom(5));
    float[] y3 = a.apply(x, 8, 3, 6, 6, new SplittableRandom(6));
    assertArrayEquals(y1, y2);
    assertFalse(Arrays.equals(y1, y3));
    assertArrayEquals(batch(8, 3, 6, 6), x, "the input must not change");
  }

  @Test
  void flipMirrorsColumnsOnly() {
    int n = 64;
    float[] x = batch(n, 2, 3, 4);
    float[] y = new Augmentation(0, true).apply(x, n, 2, 3, 4, new SplittableRandom(1));
    SplittableRandom replay = new SplittableRandom(1);
    int flipped = 0;
    for (int i = 0; i < n; i++) {
      boolean f = replay.nextBoolean();
      flipped += f ? 1 : 0;
      for (int c = 0; c < 2; c++) {
        for (int r = 0; r < 3; r++) {
          for (int col = 0; col < 4; col++) {
            int src = ((i * 2 + c) * 3 + r) * 4 + (f ? 3 - col : col);
            assertEquals(x[src], y[((i * 2 + c) * 3 + r) * 4 + col]);
          }
        }
      }
    }
    assertTrue(flipped > 10 && flipped < 54, "about half flipped: " + flipped);
  }

  @Test
  void cropShiftsContentByTheDrawnOffsetAndPadsWithZeros() {
    int n = 50;
    int h = 5;
    int w = 7;
    int p = 2;
    float[] x = batch(n, 1, h, w);
    float[] y = new Augmentation(p, false).apply(x, n, 1, h, w, new SplittableRandom(3));
    SplittableRandom replay = new SplittableRandom(3);
    boolean sawShift = false;
    for (int i = 0; i < n; i++) {
      int dy = replay.nextInt(2 * p + 1);
      int dx = replay.nextInt(2 * p + 1);
      sawShift |= dy != p || dx != p;
      for (int r = 0; r < h; r++) {
        for (int c = 0; c < w; c++) {
          int sr = r + dy - p;
          int sc = c + dx - p;
          float want = sr >= 0 && sr < h && sc >= 0 && sc < w ? x[(i * h + sr) * w + sc] : 0f;
          assertEquals(want, y[(i * h + r) * w + c], "image " + i + " (" + r + "," + c + ")");
        }
      }
    }
    assertTrue(sawShift);
  }

  @Test
  void cropThenFlipOrderAndRange() {
    int n = 32;
    float[] x = batch(n, 3, 8, 8);
    float[] y = new Augmentation(4, true).apply(x, n, 3, 8, 8, new SplittableRandom(11));
    SplittableRandom replay = new SplittableRandom(11);
    for (int i = 0; i < n; i++) {
      int dy = replay.nextInt(9) - 4;
      int dx = replay.nextInt(9) - 4;
      boolean f = replay.nextBoolean();
      for (int c = 0; c < 3; c++) {
        for (int r = 0; r < 8; r++) {
          for (int col = 0; col < 8; col++) {
            int cc = (f ? 7 - col : col) + dx; // crop first, then mirror the crop
            int rr = r + dy;
            float want =
                rr >= 0 && rr < 8 && cc >= 0 && cc < 8 ? x[((i * 3 + c) * 8 + rr) * 8 + cc] : 0f;
            assertEquals(want, y[((i * 3 + c) * 8 + r) * 8 + col]);
          }
        }
      }
    }
    for (float v : y) {
      assertTrue(v >= 0f && v <= 1f);
    }
  }

  @Test
  void identityAndValidation() {
    float[] x = batch(2, 1, 3, 3);
    assertTrue(Augmentation.NONE.isIdentity());
    assertArrayEquals(x, Augmentation.NONE.apply(x, 2, 1, 3, 3, new SplittableRandom(0)));
    assertThrows(IllegalArgumentException.class, () -> new Augmentation(-1, true));
    assertThrows(
        IllegalArgumentException.class,
        () -> Augmentation.CIFAR.apply(x, 3, 1, 3, 3, new SplittableRandom(0)));
  }
}
