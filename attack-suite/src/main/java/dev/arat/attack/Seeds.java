package dev.arat.attack;

import java.util.SplittableRandom;

/**
 * Seed derivation. Every random draw an attack makes for one sample comes from a generator seeded
 * by (attack seed, sample id), so results never depend on which other samples share the batch, on
 * their order, or on how a run is sharded.
 */
public final class Seeds {
  private Seeds() {}

  /**
   * Mixes two 64-bit values into one well-spread seed (SplitMix64 finaliser over a combination).
   */
  public static long mix(long a, long b) {
    long z = a * 0x9E3779B97F4A7C15L + Long.rotateLeft(b, 31) + 0x632BE59BD9B4E019L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    z = z ^ (z >>> 31);
    return z ^ (b * 0xD1B54A32D192ED03L);
  }

  /** The per-sample generator of an attack: seeded by {@code mix(seed, sampleId)}. */
  public static SplittableRandom forSample(long seed, long sampleId) {
    return new SplittableRandom(mix(seed, sampleId));
  }
}
