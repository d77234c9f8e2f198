package dev.arat.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** IDX headers that lie about their sizes (found by IdxFuzzTest) are clear dataset errors. */
class IdxReaderTest {
  @TempDir Path dir;

  private Path idx(int... header) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(header.length * 4 + 10);
    for (int h : header) {
      b.putInt(h);
    }
    Path f = dir.resolve("f.idx");
    Files.write(f, b.array());
    return f;
  }

  @Test
  void dimensionsWhoseProductOverflowsAreImplausible() throws IOException {
    // the fuzzer's input: 16777215 x 65504 x 1610638944 overflowed even a long, then new
    // byte[-1716728832]
    Path f = idx(0x803, 0x00ffffff, 0xffe0, 0x60006660);
    DatasetException e = assertThrows(DatasetException.class, () -> IdxReader.readImages(f));
    assertTrue(e.getMessage().contains("implausible IDX dimensions"), e.getMessage());
  }

  @Test
  void hugeDeclaredCountsInSmallFilesAreTruncatedNotAllocated() throws IOException {
    Path images = idx(0x803, 2_000_000, 1, 1000);
    DatasetException e = assertThrows(DatasetException.class, () -> IdxReader.readImages(images));
    assertTrue(
        e.getMessage().contains("truncated") && e.getMessage().contains("declares 2000000000"),
        e.getMessage());
    Path labels = idx(0x801, Integer.MAX_VALUE);
    e = assertThrows(DatasetException.class, () -> IdxReader.readLabels(labels));
    assertTrue(
        e.getMessage().contains("truncated") && e.getMessage().contains("file has 10"),
        e.getMessage());
  }

  @Test
  void wellFormedFilesStillRead() throws IOException {
    Path f = dir.resolve("l.idx");
    Files.write(f, new byte[] {0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9});
    assertArrayEquals(new int[] {7, 0, 9}, IdxReader.readLabels(f));
    Path g = dir.resolve("i.idx");
    Files.write(g, new byte[] {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, (byte) 255});
    IdxReader.Images im = IdxReader.readImages(g);
    assertEquals(1, im.count());
    assertArrayEquals(new float[] {0f, 1f}, im.pixels());
  }
}
