package dev.arat.specs;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes the {@code .npy} reader: any bytes must parse or give an {@link Npy.NpyException} (exit
 * 2). Without {@code JAZZER_FUZZ} this replays {@code NpyFuzzTestInputs/npy/}; see docs/fuzzing.md.
 */
class NpyFuzzTest {
  @FuzzTest(maxDuration = "3m")
  void npy(byte[] input) {
    try {
      Npy.parse(input, "data.npy");
    } catch (Npy.NpyException expected) {
      // a clear input error is the right answer to a bad file
    }
  }
}
