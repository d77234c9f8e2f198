package dev.arat.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.specs.Npy;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link Npy} (in specs) on the numpy-written fixtures of this module. */
class NpyFixtureTest {
  @TempDir Path dir;

  @Test
  void readsNumpyWrittenFixtures() throws Exception {
    Path x = Path.of(NpyFixtureTest.class.getResource("/fixtures/resnet/x.npy").toURI());
    Npy.NpyArray a = Npy.read(x);
    assertArrayEquals(new long[] {4, 3, 16, 16}, a.shape());
    assertTrue(
        Arrays.stream(new int[] {0, 100, 3071})
            .allMatch(i -> a.floats()[i] >= 0 && a.floats()[i] <= 1));
    Npy.NpyArray y = Npy.read(x.resolveSibling("labels.npy"));
    assertEquals(Npy.DType.INT64, y.dtype());
    // our writer's bytes read back by our reader equal numpy's values
    Npy.writeFloat32(dir.resolve("x.npy"), a.floats(), a.shape());
    assertArrayEquals(a.floats(), Npy.read(dir.resolve("x.npy")).floats());
  }
}
