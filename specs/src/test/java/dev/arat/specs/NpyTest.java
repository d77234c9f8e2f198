package dev.arat.specs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The .npy reader/writer: round trips, numpy-written files, and clear errors. */
class NpyTest {
  @TempDir Path dir;

  /** A hand-made npy file (format 1.0) with the given header dict and data bytes. */
  private static byte[] npy(String dict, byte[] data, int major) {
    byte[] h = (dict + "\n").getBytes(StandardCharsets.ISO_8859_1);
    int pre = major == 1 ? 10 : 12;
    ByteBuffer b = ByteBuffer.allocate(pre + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) major, 0});
    if (major == 1) {
      b.putShort((short) h.length);
    } else {
      b.putInt(h.length);
    }
    return b.put(h).put(data).array();
  }

  @Test
  void float32AndInt64RoundTrip() {
    float[] f = {1.5f, -2f, 3.25f, 0f, Float.MIN_VALUE, 7f};
    Npy.writeFloat32(dir.resolve("a/f.npy"), f, 2, 3);
    Npy.NpyArray a = Npy.read(dir.resolve("a/f.npy"));
    assertEquals(Npy.DType.FLOAT32, a.dtype());
    assertArrayEquals(new long[] {2, 3}, a.shape());
    assertArrayEquals(f, a.floats());
    assertNull(a.longs());
    long[] l = {3, -1, Long.MAX_VALUE};
    Npy.writeInt64(dir.resolve("l.npy"), l, 3);
    Npy.NpyArray b = Npy.read(dir.resolve("l.npy"));
    assertEquals(Npy.DType.INT64, b.dtype());
    assertArrayEquals(l, b.longs());
    Npy.writeFloat32(dir.resolve("s.npy"), new float[] {4f});
    assertArrayEquals(new long[0], Npy.read(dir.resolve("s.npy")).shape());
  }

  @Test
  void headerIsNumpyCompatible() throws Exception {
    Npy.writeFloat32(dir.resolve("f.npy"), new float[4], 4);
    byte[] bytes = Files.readAllBytes(dir.resolve("f.npy"));
    assertEquals(0, (bytes.length - 16) % 64, "data starts on a 64-byte boundary");
    String header = new String(bytes, 10, bytes.length - 26, StandardCharsets.ISO_8859_1);
    assertTrue(
        header.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }"), header);
  }

  @Test
  void readsInt32BigEndianAndVersion2() {
    ByteBuffer be = ByteBuffer.allocate(12).order(ByteOrder.BIG_ENDIAN);
    be.putInt(1).putInt(-2).putInt(300);
    Npy.NpyArray a =
        Npy.parse(
            npy("{'descr': '>i4', 'fortran_order': False, 'shape': (3,), }", be.array(), 1), "t");
    assertEquals(Npy.DType.INT32, a.dtype());
    assertArrayEquals(new long[] {1, -2, 300}, a.longs());
    ByteBuffer le = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1f).putFloat(2f);
    Npy.NpyArray b =
        Npy.parse(
            npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }", le.array(), 2), "t");
    assertArrayEquals(new float[] {1f, 2f}, b.floats());
  }

  @Test
  void errorsNameTheFileAndTheProblem() throws Exception {
    Npy.NpyException e =
        assertThrows(Npy.NpyException.class, () -> Npy.read(dir.resolve("missing.npy")));
    assertTrue(e.getMessage().contains("missing.npy' does not exist"), e.getMessage());
    Files.writeString(dir.resolve("text.npy"), "hello, world");
    e = assertThrows(Npy.NpyException.class, () -> Npy.read(dir.resolve("text.npy")));
    assertTrue(e.getMessage().contains("not a NumPy .npy file"), e.getMessage());
    e =
        assertThrows(
            Npy.NpyException.class,
            () ->
                Npy.parse(
                    npy(
                        "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
                        new byte[8],
                        1),
                    "c64"));
    assertTrue(e.getMessage().contains("unsupported dtype '<c8'"), e.getMessage());
    e =
        assertThrows(
            Npy.NpyException.class,
            () ->
                Npy.parse(
                    npy(
                        "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }",
                        new byte[16],
                        1),
                    "fo"));
    assertTrue(e.getMessage().contains("Fortran-order"), e.getMessage());
    e =
        assertThrows(
            Npy.NpyException.class,
            () ->
                Npy.parse(
                    npy(
                        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
                        new byte[20],
                        1),
                    "tr"));
    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    e =
        assertThrows(
            Npy.NpyException.class,
            () ->
                Npy.parse(
                    npy(
                        "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
                        new byte[8],
                        1),
                    "extra"));
    assertTrue(e.getMessage().contains("after the array data"), e.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> Npy.writeFloat32(dir.resolve("bad.npy"), new float[3], 2, 2));
  }

  @Test
  void float64AndUint8() throws Exception {
    java.nio.ByteBuffer d =
        java.nio.ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    d.putDouble(0.25).putDouble(1.0);
    Npy.NpyArray a =
        Npy.parse(
            npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", d.array(), 1), "f8");
    assertEquals(Npy.DType.FLOAT64, a.dtype());
    assertArrayEquals(new float[] {0.25f, 1f}, a.floats());
    Npy.writeUint8(dir.resolve("u.npy"), new byte[] {0, (byte) 255, 7}, 3);
    Npy.NpyArray u = Npy.read(dir.resolve("u.npy"));
    assertEquals(Npy.DType.UINT8, u.dtype());
    assertTrue(u.integral());
    assertEquals(255, u.longAt(1));
    assertEquals(7, u.longAt(2));
  }

  /** Found by review while fuzzing: a shape whose element count overflows to 0 read as data. */
  @Test
  void shapesWhoseElementCountOverflowsAreErrors() {
    Npy.NpyException e =
        assertThrows(
            Npy.NpyException.class,
            () ->
                Npy.parse(
                    npy(
                        "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
                        new byte[0],
                        1),
                    "t"));
    assertTrue(e.getMessage().contains("shape [4294967296, 4294967296]"), e.getMessage());
    assertArrayEquals(
        new long[] {0, 4294967296L},
        Npy.parse(
                npy(
                    "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4294967296), }",
                    new byte[0],
                    1),
                "t")
            .shape());
  }
}
