package dev.arat.specs;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Fuzzes the safetensors reader (checkpoints): any bytes must decode or give a {@link
 * SpecException} (exit 2). Without {@code JAZZER_FUZZ} this replays {@code
 * SafeTensorsFuzzTestInputs/safeTensors/}; see docs/fuzzing.md.
 */
class SafeTensorsFuzzTest {
  @FuzzTest(maxDuration = "3m")
  void safeTensors(byte[] input) {
    try {
      SafeTensors.decode(input, "model.safetensors");
    } catch (SpecException expected) {
      // a clear input error is the right answer to a bad file
    }
  }
}
