package dev.arat.specs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
  @TempDir Path dir;

  private static Checkpoint sample(int epoch) {
    return sample(epoch, 0);
  }

  private static Checkpoint sample(int epoch, int stepInEpoch) {
    ArchitectureSpec a =
        Architectures.smallCnn(1, 28, 28, 10, new float[] {0.3f}, new float[] {0.35f});
    Map<String, Tensor> w =
        Map.of(
            "conv1.weight", new Tensor(new long[] {2, 1, 1, 1}, new float[] {1.5f, -2f}),
            "fc2.bias", new Tensor(new long[] {3}, new float[] {0.1f, 0.2f, Float.MIN_VALUE}));
    Map<String, Tensor> opt =
        Map.of("conv1.weight", new Tensor(new long[] {2, 1, 1, 1}, new float[] {0f, 3f}));
    TrainingState st =
        new TrainingState(
            epoch, stepInEpoch, 100L * epoch + stepInEpoch, 0.42, 7, Map.of("tool", "arat-test"));
    return new Checkpoint(
        a,
        new TrainingRecipe(null, 5L, null, null, 2, null, null, null, null, null, null, null),
        w,
        opt,
        st);
  }

  @Test
  void writesAndReadsBack() throws Exception {
    Checkpoint c = sample(1);
    Path p = dir.resolve("checkpoints").resolve(Checkpoint.folderName(1, 0));
    c.write(p);
    Checkpoint r = Checkpoint.read(p);
    assertEquals(c.weights(), r.weights());
    assertEquals(c.optimizer(), r.optimizer());
    assertEquals(c.state(), r.state());
    assertEquals(c.recipe(), r.recipe());
    assertEquals(c.architecture().layers(), r.architecture().layers());
    // no temporary folders are left behind
    try (var s = Files.list(p.getParent())) {
      assertEquals(1, s.count());
    }
  }

  @Test
  void latestPicksTheMostAdvancedSkipsTemporariesAndReportsADamagedNewest() throws Exception {
    sample(1).write(dir.resolve("checkpoints").resolve(Checkpoint.folderName(1, 0)));
    sample(1, 40).write(dir.resolve("checkpoints").resolve(Checkpoint.folderName(1, 40)));
    sample(2).write(dir.resolve("checkpoints").resolve(Checkpoint.folderName(2, 0)));
    Files.createDirectories(dir.resolve("checkpoints").resolve(".epoch-0003.tmp123"));
    assertEquals("epoch-0002", Checkpoint.latest(dir).orElseThrow().getFileName().toString());
    assertEquals(2, Checkpoint.read(dir).state().epoch()); // a run folder resolves to its latest
    // a newest checkpoint without state.json is named with the missing file, never silently skipped
    Files.createDirectories(dir.resolve("checkpoints").resolve("epoch-0003"));
    String msg = assertThrows(SpecException.class, () -> Checkpoint.read(dir)).getMessage();
    assertTrue(msg.contains("epoch-0003") && msg.contains("architecture.json is missing"), msg);
    sample(2).write(dir.resolve("checkpoints").resolve("copy"));
    for (String f : new String[] {"architecture.json", "recipe.yaml", "weights.safetensors"}) {
      Files.copy(
          dir.resolve("checkpoints/copy").resolve(f),
          dir.resolve("checkpoints/epoch-0003").resolve(f));
    }
    msg = assertThrows(SpecException.class, () -> Checkpoint.read(dir)).getMessage();
    assertTrue(msg.contains("epoch-0003") && msg.contains("state.json is missing"), msg);
  }

  @Test
  void truncatedWeightsAreAClearError() throws Exception {
    Path p = dir.resolve("ck");
    sample(1).write(p);
    Path w = p.resolve(Checkpoint.WEIGHTS);
    byte[] all = Files.readAllBytes(w);
    Files.write(w, Arrays.copyOf(all, all.length - 5));
    SpecException e = assertThrows(SpecException.class, () -> Checkpoint.read(p));
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    Files.delete(p.resolve("state.json"));
    e = assertThrows(SpecException.class, () -> Checkpoint.read(p));
    assertTrue(e.getMessage().contains("not a checkpoint"), e.getMessage());
  }

  @Test
  void safetensorsLayoutMatchesTheFormat() {
    Map<String, Tensor> t =
        Map.of(
            "b",
            new Tensor(new long[] {2}, new float[] {1f, 2f}),
            "a",
            new Tensor(new long[] {1, 1}, new float[] {-1f}));
    byte[] bytes = SafeTensors.encode(t, Map.of("k", "v"));
    ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    long n = buf.getLong();
    assertEquals(0, (8 + n) % 8);
    String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
    assertTrue(
        header.contains("\"a\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[0,4]}"),
        header);
    assertTrue(
        header.contains("\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}"), header);
    assertEquals(-1f, buf.getFloat((int) (8 + n)));
    SafeTensors.Contents c = SafeTensors.decode(bytes, "x");
    assertArrayEquals(new float[] {1f, 2f}, c.tensors().get("b").data());
    assertEquals("v", c.metadata().get("k"));
    assertFalse(c.tensors().containsKey("__metadata__"));
  }

  /** A header around 8 data bytes (two floats). */
  private static byte[] withHeader(String json) {
    byte[] h = json.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + h.length + 8).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(h.length).put(h).putFloat(1f).putFloat(2f);
    return b.array();
  }

  /**
   * Headers the fuzzer (SafeTensorsFuzzTest) made crash with NPE / ClassCastException / overflow.
   */
  @Test
  void malformedSafetensorsHeadersAreSpecErrors() {
    String[][] cases = {
      {"{\"w\":{\"dtype\":\"F32\",\"shapg\":[2],\"data_offsets\":[0,8]}}", "shape is missing"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", "data_offsets is missing"},
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", "shape is missing"},
      {
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", "non-negative integer"
      },
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", "list of 2"},
      {"{\"w\":[1,2]}", "expected an object"},
      {"{\"__metadata__\":[1]}", "__metadata__ is not an object"},
      {
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,9223372036854775807]}}",
        "beyond the end"
      },
      {"{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,3]}}", "whole number of F32"},
      {
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}",
        "more than 2^31"
      },
    };
    for (String[] c : cases) {
      SpecException e =
          assertThrows(
              SpecException.class, () -> SafeTensors.decode(withHeader(c[0]), "m.st"), c[0]);
      assertTrue(
          e.getMessage().startsWith("m.st: ") && e.getMessage().contains(c[1]), e.getMessage());
    }
    assertArrayEquals(
        new float[] {1f, 2f},
        SafeTensors.decode(
                withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}"),
                "m.st")
            .tensors()
            .get("w")
            .data());
  }
}
