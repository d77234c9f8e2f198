package dev.arat.specs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A checkpoint's state.json is checked against the folder it sits in; checkpoints are never
 * overwritten.
 */
class CheckpointStateTest {
  @TempDir Path dir;

  private static Checkpoint at(int epoch, int step, long globalStep) {
    ArchitectureSpec a =
        Architectures.smallCnn(1, 28, 28, 10, new float[] {0.3f}, new float[] {0.35f});
    Map<String, Tensor> w =
        Map.of("fc2.bias", new Tensor(new long[] {2}, new float[] {0.1f, 0.2f}));
    TrainingState st =
        new TrainingState(epoch, step, globalStep, 0.5, 3, Map.of("tool", "arat-test"));
    return new Checkpoint(
        a,
        new TrainingRecipe(null, 5L, null, null, 4, null, null, null, null, null, null, null),
        w,
        Map.of(),
        st);
  }

  private Path written(int epoch) throws IOException {
    Path p = dir.resolve("checkpoints").resolve(Checkpoint.folderName(epoch, 0));
    at(epoch, 0, 10L * epoch).write(p);
    return p;
  }

  private static void editState(Path folder, String from, String to) throws IOException {
    Path s = folder.resolve(Checkpoint.STATE);
    String text = Files.readString(s);
    assertTrue(text.contains(from), text);
    Files.writeString(s, text.replace(from, to));
  }

  @Test
  void provenanceIsWrittenInKeyOrderSoStateJsonIsTheSameBytesInEveryRun() {
    Map<String, String> prov = new java.util.LinkedHashMap<>();
    for (int i = 39; i >= 0; i--) {
      prov.put(String.format("key%02d", i), "v" + i);
    }
    String json = Specs.toJson(new TrainingState(1, 0, 10, 0.5, 0, prov));
    int last = -1;
    for (int i = 0; i < 40; i++) {
      int at = json.indexOf(String.format("\"key%02d\"", i));
      assertTrue(at > last, json);
      last = at;
    }
  }

  @Test
  void negativeEpochIsRefusedOnRead() throws Exception {
    Path p = written(3);
    editState(p, "\"epoch\" : 3", "\"epoch\" : -5");
    String msg = assertThrows(SpecException.class, () -> Checkpoint.read(dir)).getMessage();
    assertTrue(msg.contains("state.json: epoch: must be >= 0, was -5"), msg);
  }

  @Test
  void epochThatDisagreesWithTheFolderIsRefused() throws Exception {
    Path p = written(3);
    editState(p, "\"epoch\" : 3", "\"epoch\" : 999");
    String msg = assertThrows(SpecException.class, () -> Checkpoint.read(dir)).getMessage();
    assertTrue(msg.contains("says epoch 999") && msg.contains("epoch-0003"), msg);
  }

  @Test
  void epochPastTheRecipeIsRefusedEvenInAMatchingFolder() throws Exception {
    Path p = written(3);
    editState(p, "\"epoch\" : 3", "\"epoch\" : 999");
    Path moved = Files.move(p, p.resolveSibling("epoch-0999"));
    String msg = assertThrows(SpecException.class, () -> Checkpoint.read(moved)).getMessage();
    assertTrue(msg.contains("999 epochs are done") && msg.contains("trains only 4"), msg);
  }

  @Test
  void binaryStateFileIsNamedAsNotJson() throws Exception {
    Path p = written(1);
    byte[] junk = new byte[256];
    new Random(1).nextBytes(junk);
    Files.write(p.resolve(Checkpoint.STATE), junk);
    String msg = assertThrows(SpecException.class, () -> Checkpoint.read(p)).getMessage();
    assertTrue(msg.contains("state.json") && msg.contains("not JSON"), msg);
    assertTrue(!msg.contains("Input length"), msg);
  }

  @Test
  void deletedStateFileIsNamed() throws Exception {
    Path p = written(1);
    Files.delete(p.resolve(Checkpoint.STATE));
    String msg = assertThrows(SpecException.class, () -> Checkpoint.read(dir)).getMessage();
    assertTrue(msg.contains("epoch-0001") && msg.contains("state.json is missing"), msg);
  }

  @Test
  void aCheckpointIsNeverReplacedByAnotherPosition() throws Exception {
    Path p = written(2);
    byte[] before = Files.readAllBytes(p.resolve(Checkpoint.STATE));
    // a run resumed from an edited state would write epoch 2 again with other progress
    IOException e = assertThrows(IOException.class, () -> at(2, 0, 999).write(p));
    assertTrue(e.getMessage().contains("never overwrites"), e.getMessage());
    assertEquals(new String(before), Files.readString(p.resolve(Checkpoint.STATE)));
    // a folder named for another position is refused outright
    assertThrows(IOException.class, () -> at(1, 0, 10).write(p));
    // the very same position may be written again (an interrupt right after a checkpoint)
    at(2, 0, 20).write(p);
    assertEquals(20, Checkpoint.read(p).state().globalStep());
    // a folder not named for a position (swa/) is replaced as before
    at(1, 0, 10).write(dir.resolve("swa"));
    at(2, 0, 20).write(dir.resolve("swa"));
    assertEquals(2, Checkpoint.read(dir.resolve("swa")).state().epoch());
    try (var s = Files.list(dir)) {
      assertTrue(
          s.noneMatch(q -> q.getFileName().toString().startsWith(".")),
          "no temporary folders left");
    }
  }

  @Test
  void negativeCountersAreRefusedWhereverTheStateComesFrom() {
    assertThrows(
        IllegalArgumentException.class, () -> new TrainingState(-1, 0, 0, 0.5, 0, Map.of()));
    assertThrows(
        IllegalArgumentException.class, () -> new TrainingState(1, -2, 0, 0.5, 0, Map.of()));
    assertThrows(IllegalArgumentException.class, () -> new TrainingState(1, 0, 0, 7, 0, Map.of()));
    new TrainingState(0, 0, 0, -1, 0, Map.of()); // before the first balance measurement
  }
}
