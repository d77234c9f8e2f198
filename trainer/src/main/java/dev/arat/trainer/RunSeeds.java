package dev.arat.trainer;

import dev.arat.attack.Seeds;

/**
 * The seeds of a training run's random streams, all derived from the recipe seed: each stream xors
 * its own salt into the seed and mixes in a counter ({@link Seeds#mix}), so the streams are
 * independent and a resumed run repeats an uninterrupted one. The salts are part of the run's
 * results: changing one changes every run trained with that stream.
 */
final class RunSeeds {
  /** Training-batch augmentation, per global step. */
  static final long AUGMENT = 0xA06L;

  /** Augmentation of the auto-balance images, per global step. */
  static final long BALANCE_AUGMENT = 0xA06BL;

  /** Which training images auto-balance measures on, per global step. */
  static final long BALANCE_SAMPLE = 0xBA1A5CEL;

  /** The order of the SWA BN re-estimation batches (mixed with the final global step). */
  static final long SWA_ORDER = 0x5A4L;

  /** Augmentation of SWA BN re-estimation batch {@code b}. */
  static final long SWA_AUGMENT = 0x5A4A06L;

  /** The attack of SWA BN re-estimation batch {@code b}. */
  static final long SWA_ATTACK = 0x5A4A77L;

  private RunSeeds() {}

  /** The seed of stream {@code salt} at counter {@code counter} for recipe seed {@code seed}. */
  static long of(long seed, long salt, long counter) {
    return Seeds.mix(seed ^ salt, counter);
  }
}
