package dev.arat.data;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;

/**
 * Fuzzes CIFAR tarball reading (gzip, tar via Commons Compress, CIFAR binary records): any bytes
 * must give the test split or a {@link DatasetException} (exit 2). Without {@code JAZZER_FUZZ} this
 * replays {@code CifarTarFuzzTestInputs/cifarTarball/}; see docs/fuzzing.md.
 */
class CifarTarFuzzTest {
  @FuzzTest(maxDuration = "3m")
  void cifarTarball(byte[] input) {
    try {
      Cifar.fromTarball(
          Cifar.Variant.CIFAR10,
          new ByteArrayInputStream(input),
          "cifar-10-binary.tar.gz",
          Split.TEST);
    } catch (DatasetException expected) {
      // a clear input error is the right answer to a bad file
    }
  }
}
