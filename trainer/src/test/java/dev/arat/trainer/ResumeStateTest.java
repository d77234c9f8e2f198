package dev.arat.trainer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.specs.Architectures;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.SpecException;
import dev.arat.specs.Tensor;
import dev.arat.specs.TrainingState;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@code --resume} on an edited {@code state.json} stops before any training: nothing in the run
 * folder changes (it used to train epochs -4..1 and overwrite the checkpoint and its metrics line).
 */
class ResumeStateTest {
  @ParameterizedTest
  @CsvSource({"-5, must be >= 0", "999, says epoch 999"})
  void anEditedStateIsRefusedAndNothingIsOverwritten(int epoch, String expected, @TempDir Path run)
      throws Exception {
    Path ckpt = run.resolve("checkpoints").resolve(Checkpoint.folderName(1, 0));
    new Checkpoint(
            Architectures.smallCnn(1, 28, 28, 10, new float[] {0.5f}, new float[] {0.25f}),
            TrainerTest.recipe(2, ""),
            Map.of("fc2.bias", new Tensor(new long[] {1}, new float[] {0f})),
            Map.of(),
            new TrainingState(1, 0, 5, 0.5, 0, Map.of()))
        .write(ckpt);
    Path state = ckpt.resolve(Checkpoint.STATE);
    Files.writeString(
        state, Files.readString(state).replace("\"epoch\" : 1", "\"epoch\" : " + epoch));
    Path metrics = Files.writeString(run.resolve("metrics.jsonl"), "{\"epoch\":1}\n");
    byte[] stateBefore = Files.readAllBytes(state);
    byte[] weightsBefore = Files.readAllBytes(ckpt.resolve(Checkpoint.WEIGHTS));

    SpecException e =
        assertThrows(
            SpecException.class,
            () -> new Trainer().train(TrainerTest.recipe(2, ""), run, true, null, null));
    assertTrue(
        e.getMessage().contains("state.json") && e.getMessage().contains(expected), e.getMessage());
    assertArrayEquals(stateBefore, Files.readAllBytes(state));
    assertArrayEquals(weightsBefore, Files.readAllBytes(ckpt.resolve(Checkpoint.WEIGHTS)));
    assertEquals("{\"epoch\":1}\n", Files.readString(metrics));
    try (var s = Files.list(run.resolve("checkpoints"))) {
      assertEquals(1, s.count());
    }
  }
}
