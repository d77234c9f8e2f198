package dev.arat.data;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzzes the IDX (Fashion-MNIST) reader, plain or gzipped: any file must read as images or labels
 * or give a {@link DatasetException} (exit 2). Without {@code JAZZER_FUZZ} this replays {@code
 * IdxFuzzTestInputs/idx/}; see docs/fuzzing.md.
 */
class IdxFuzzTest {
  private static Path file;

  @BeforeAll
  static void createFile() throws IOException {
    file = Files.createTempFile("arat-fuzz", ".idx");
  }

  @AfterAll
  static void deleteFile() throws IOException {
    Files.deleteIfExists(file);
  }

  @FuzzTest(maxDuration = "3m")
  void idx(byte[] input) throws IOException {
    Files.write(file, input);
    try {
      IdxReader.readImages(file);
    } catch (DatasetException expected) {
      // a clear input error is the right answer to a bad file
    }
    try {
      IdxReader.readLabels(file);
    } catch (DatasetException expected) {
      // idem
    }
  }
}
