package dev.arat.specs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A small reader and writer for NumPy {@code .npy} files (format versions 1.0, 2.0 and 3.0) holding
 * C-order (row-major) arrays of float32, float64, int64, int32 or uint8, little- or big-endian.
 * Float64 values are read as float32 (the type models take); uint8 values are kept as bytes.
 *
 * <p>Written files use format 1.0, little-endian, with the header padded so the data starts at a
 * multiple of 64 bytes, exactly as {@code numpy.save} does; {@code numpy.load} reads them. Every
 * problem (missing file, not an npy file, truncated data, unsupported dtype, Fortran order) raises
 * {@link NpyException} whose message names the file.
 */
public final class Npy {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
  private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
  private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

  private Npy() {}

  /** The element types this class reads and writes. */
  public enum DType {
    /** IEEE float32 ({@code <f4}). */
    FLOAT32("f4", 4),
    /** Signed 64-bit integer ({@code <i8}). */
    INT64("i8", 8),
    /** Signed 32-bit integer ({@code <i4}). */
    INT32("i4", 4),
    /** IEEE float64 ({@code <f8}), read into float32. */
    FLOAT64("f8", 8),
    /** Unsigned byte ({@code |u1}). */
    UINT8("u1", 1);

    private final String code;
    private final int size;

    DType(String code, int size) {
      this.code = code;
      this.size = size;
    }

    /** Bytes per element. */
    public int size() {
      return size;
    }

    /** The NumPy type code without byte order, e.g. {@code f4}. */
    public String code() {
      return code;
    }
  }

  /**
   * Thrown for a missing, unreadable or malformed {@code .npy} file; the message names the file.
   */
  public static final class NpyException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with a user-facing message. */
    public NpyException(String message) {
      super(message);
    }

    /** Creates the exception with a user-facing message and its cause. */
    public NpyException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * An array read from a {@code .npy} file: float data in {@link #floats()} (float64 narrowed to
   * float32), int64 and int32 data in {@link #longs()} (int32 widened), uint8 data in {@link
   * #bytes()}; the others are null.
   *
   * @param dtype the stored element type
   * @param shape the dimensions (empty for a scalar)
   * @param floats the values for {@link DType#FLOAT32} and {@link DType#FLOAT64}, else null
   * @param longs the values for {@link DType#INT64} and {@link DType#INT32}, else null
   * @param bytes the values for {@link DType#UINT8} (unsigned: read with {@code & 0xff}), else null
   */
  public record NpyArray(DType dtype, long[] shape, float[] floats, long[] longs, byte[] bytes) {
    /** Makes the record, copying the shape. */
    public NpyArray {
      shape = shape.clone();
    }

    /** An array of floats or 64-bit integers (no bytes). */
    public NpyArray(DType dtype, long[] shape, float[] floats, long[] longs) {
      this(dtype, shape, floats, longs, null);
    }

    /** Whether the elements are integers (int64, int32 or uint8). */
    public boolean integral() {
      return dtype == DType.INT64 || dtype == DType.INT32 || dtype == DType.UINT8;
    }

    /** Integer element {@code i} (int64, int32 or uint8 arrays). */
    public long longAt(int i) {
      return bytes != null ? bytes[i] & 0xff : longs[i];
    }

    /** The dimensions (a copy). */
    @Override
    public long[] shape() {
      return shape.clone();
    }

    /** The number of elements. */
    public long size() {
      return numel(shape);
    }
  }

  /**
   * Reads a {@code .npy} file.
   *
   * @param path the file
   * @return the array
   * @throws NpyException if the file is missing, unreadable or not a supported npy array
   */
  public static NpyArray read(Path path) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(path);
    } catch (NoSuchFileException e) {
      throw new NpyException("npy file '" + path + "' does not exist", e);
    } catch (AccessDeniedException e) {
      throw new NpyException("npy file '" + path + "' cannot be read (permission denied)", e);
    } catch (IOException e) {
      throw new NpyException("npy file '" + path + "' cannot be read: " + e.getMessage(), e);
    }
    return parse(bytes, "npy file '" + path + "'");
  }

  /**
   * Parses the bytes of a {@code .npy} file.
   *
   * @param bytes the file content
   * @param label how to name the source in messages
   * @throws NpyException if the bytes are not a supported npy array
   */
  public static NpyArray parse(byte[] bytes, String label) {
    if (bytes.length < 10 || !Arrays.equals(Arrays.copyOf(bytes, 6), MAGIC)) {
      throw new NpyException(label + " is not a NumPy .npy file (bad magic bytes)");
    }
    int major = bytes[6] & 0xff;
    ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    int headerLen;
    int start;
    if (major == 1) {
      headerLen = buf.getShort(8) & 0xffff;
      start = 10;
    } else if (major == 2 || major == 3) {
      if (bytes.length < 12) {
        throw new NpyException(label + " is truncated (no header)");
      }
      headerLen = buf.getInt(8);
      start = 12;
    } else {
      throw new NpyException(label + " has unsupported .npy format version " + major);
    }
    if (headerLen < 0 || start + (long) headerLen > bytes.length) {
      throw new NpyException(label + " is truncated (header of " + headerLen + " bytes)");
    }
    String header =
        new String(
            bytes,
            start,
            headerLen,
            major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
    Matcher d = DESCR.matcher(header);
    Matcher f = FORTRAN.matcher(header);
    Matcher s = SHAPE.matcher(header);
    if (!d.find() || !f.find() || !s.find()) {
      throw new NpyException(label + " has a malformed header: " + header.strip());
    }
    if (f.group(1).equals("True")) {
      throw new NpyException(
          label
              + " stores a Fortran-order array; save it in C order"
              + " (numpy.ascontiguousarray)");
    }
    String descr = d.group(1);
    ByteOrder order;
    String code;
    if (descr.length() == 3 && (descr.charAt(0) == '<' || descr.charAt(0) == '|')) {
      order = ByteOrder.LITTLE_ENDIAN;
      code = descr.substring(1);
    } else if (descr.length() == 3 && descr.charAt(0) == '>') {
      order = ByteOrder.BIG_ENDIAN;
      code = descr.substring(1);
    } else {
      throw new NpyException(
          label
              + " has unsupported dtype '"
              + descr
              + "'; expected float32 ('<f4'), float64 ('<f8'), int64 ('<i8'), int32 ('<i4') or uint8 ('|u1')");
    }
    DType type = null;
    for (DType t : DType.values()) {
      if (t.code.equals(code)) {
        type = t;
      }
    }
    if (type == null) {
      throw new NpyException(
          label
              + " has unsupported dtype '"
              + descr
              + "'; expected float32 ('<f4'), float64 ('<f8'), int64 ('<i8'), int32 ('<i4') or uint8 ('|u1')");
    }
    List<Long> dims = new ArrayList<>();
    for (String part : s.group(1).split(",")) {
      String p = part.strip();
      if (p.isEmpty()) {
        continue;
      }
      try {
        long v = Long.parseLong(p.endsWith("L") ? p.substring(0, p.length() - 1) : p);
        if (v < 0) {
          throw new NumberFormatException();
        }
        dims.add(v);
      } catch (NumberFormatException e) {
        throw new NpyException(label + " has a malformed shape (" + s.group(1) + ")");
      }
    }
    long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
    long count = 1;
    for (long dim : shape) { // an overflowing product would pass the length checks below
      if (dim != 0 && count > Integer.MAX_VALUE / dim) {
        count = Long.MAX_VALUE / 16;
      } else {
        count *= dim;
      }
    }
    int dataStart = start + headerLen;
    long need = count * type.size;
    if (count > Integer.MAX_VALUE || bytes.length - dataStart < need) {
      throw new NpyException(
          label
              + " is truncated: shape "
              + Arrays.toString(shape)
              + " of "
              + descr
              + " needs "
              + need
              + " data bytes, the file has "
              + (bytes.length - dataStart));
    }
    if (bytes.length - dataStart > need) {
      throw new NpyException(
          label
              + " has "
              + (bytes.length - dataStart - need)
              + " bytes after the array data (not a single .npy array?)");
    }
    ByteBuffer data = ByteBuffer.wrap(bytes, dataStart, (int) need).slice().order(order);
    int n = (int) count;
    switch (type) {
      case FLOAT32 -> {
        float[] out = new float[n];
        data.asFloatBuffer().get(out);
        return new NpyArray(type, shape, out, null);
      }
      case FLOAT64 -> {
        java.nio.DoubleBuffer db = data.asDoubleBuffer();
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
          out[i] = (float) db.get(i);
        }
        return new NpyArray(type, shape, out, null);
      }
      case UINT8 -> {
        byte[] out = new byte[n];
        data.get(out);
        return new NpyArray(type, shape, null, null, out);
      }
      case INT64 -> {
        long[] out = new long[n];
        data.asLongBuffer().get(out);
        return new NpyArray(type, shape, null, out);
      }
      default -> {
        int[] tmp = new int[n];
        data.asIntBuffer().get(tmp);
        return new NpyArray(type, shape, null, Arrays.stream(tmp).asLongStream().toArray());
      }
    }
  }

  /**
   * Writes a float32 array.
   *
   * @param path the destination (parent directories are created)
   * @param data values in C order; length must equal the product of {@code shape}
   * @param shape the dimensions
   * @throws NpyException if the file cannot be written
   */
  public static void writeFloat32(Path path, float[] data, long... shape) {
    check(data.length, shape);
    ByteBuffer b = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(data);
    write(path, DType.FLOAT32, shape, b.array());
  }

  /**
   * Writes an int64 array.
   *
   * @param path the destination (parent directories are created)
   * @param data values in C order; length must equal the product of {@code shape}
   * @param shape the dimensions
   * @throws NpyException if the file cannot be written
   */
  public static void writeInt64(Path path, long[] data, long... shape) {
    check(data.length, shape);
    ByteBuffer b = ByteBuffer.allocate(8 * data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.asLongBuffer().put(data);
    write(path, DType.INT64, shape, b.array());
  }

  /**
   * Writes a uint8 array.
   *
   * @param path the destination (parent directories are created)
   * @param data values in C order (unsigned); length must equal the product of {@code shape}
   * @param shape the dimensions
   * @throws NpyException if the file cannot be written
   */
  public static void writeUint8(Path path, byte[] data, long... shape) {
    check(data.length, shape);
    write(path, DType.UINT8, shape, data.clone());
  }

  /** The bytes of a format 1.0 {@code .npy} file (header padded to 64 bytes) with this data. */
  static byte[] encode(DType type, long[] shape, byte[] data) {
    StringBuilder sh = new StringBuilder();
    for (int i = 0; i < shape.length; i++) {
      sh.append(shape[i]).append(shape.length == 1 || i < shape.length - 1 ? "," : "");
      if (i < shape.length - 1) {
        sh.append(' ');
      }
    }
    String dict =
        String.format(
            Locale.ROOT,
            "{'descr': '%s%s', 'fortran_order': False, 'shape': (%s), }",
            type == DType.UINT8 ? "|" : "<",
            type.code,
            sh);
    int total = 10 + dict.length() + 1;
    int pad = (64 - total % 64) % 64;
    String header = dict + " ".repeat(pad) + "\n";
    byte[] h = header.getBytes(StandardCharsets.ISO_8859_1);
    ByteBuffer out =
        ByteBuffer.allocate(10 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
    out.put(MAGIC).put((byte) 1).put((byte) 0).putShort((short) h.length).put(h).put(data);
    return out.array();
  }

  private static void write(Path path, DType type, long[] shape, byte[] data) {
    try {
      Path abs = path.toAbsolutePath();
      if (abs.getParent() != null) {
        Files.createDirectories(abs.getParent());
      }
      Files.write(abs, encode(type, shape, data));
    } catch (IOException e) {
      throw new NpyException("cannot write npy file '" + path + "': " + e.getMessage(), e);
    }
  }

  /** The number of elements of a shape (1 for a scalar). */
  static long numel(long... shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  private static void check(int count, long[] shape) {
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in " + Arrays.toString(shape));
      }
    }
    if (numel(shape) != count) {
      throw new IllegalArgumentException(
          count + " values do not fill shape " + Arrays.toString(shape));
    }
  }
}
