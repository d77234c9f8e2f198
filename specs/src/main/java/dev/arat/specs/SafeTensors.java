package dev.arat.specs;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
 * ({@code {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, "__metadata__":
 * {...}}}) and the little-endian tensor bytes. Files are readable by Python's {@code safetensors}.
 * Only float32 ({@code F32}) tensors are written or read.
 */
public final class SafeTensors {
  private SafeTensors() {}

  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final long MAX_HEADER = 100L << 20;

  /** The tensors and string metadata of one file. */
  public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) {}

  /** Serialises tensors (sorted by name, as the reference writer does) and metadata to bytes. */
  public static byte[] encode(Map<String, Tensor> tensors, Map<String, String> metadata) {
    Map<String, Object> header = new LinkedHashMap<>();
    if (metadata != null && !metadata.isEmpty()) {
      header.put("__metadata__", new TreeMap<>(metadata));
    }
    long offset = 0;
    Map<String, Tensor> sorted = new TreeMap<>(tensors);
    for (var e : sorted.entrySet()) {
      long bytes = 4L * e.getValue().size();
      Map<String, Object> info = new LinkedHashMap<>();
      info.put("dtype", "F32");
      info.put("shape", e.getValue().shape());
      info.put("data_offsets", new long[] {offset, offset + bytes});
      header.put(e.getKey(), info);
      offset += bytes;
    }
    byte[] json;
    try {
      json = MAPPER.writeValueAsBytes(header);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    int pad = (8 - json.length % 8) % 8; // align the data to 8 bytes, padding with spaces
    int headerLen = json.length + pad;
    ByteBuffer buf =
        ByteBuffer.allocate(Math.toIntExact(8 + headerLen + offset)).order(ByteOrder.LITTLE_ENDIAN);
    buf.putLong(headerLen).put(json);
    for (int i = 0; i < pad; i++) {
      buf.put((byte) ' ');
    }
    for (Tensor t : sorted.values()) {
      buf.asFloatBuffer().put(t.data());
      buf.position(buf.position() + 4 * t.size());
    }
    return buf.array();
  }

  /** Writes a file atomically (temporary file in the same folder, then rename). */
  public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata)
      throws IOException {
    AtomicFiles.write(file, encode(tensors, metadata));
  }

  /** Reads a file; a truncated or malformed file is a {@link SpecException} naming it. */
  public static Contents read(Path file) throws IOException {
    return decode(Files.readAllBytes(file), file.toString());
  }

  /** Parses safetensors bytes; {@code source} names them in errors. */
  public static Contents decode(byte[] bytes, String source) {
    ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    if (bytes.length < 8) {
      throw new SpecException(source + ": not a safetensors file (too short)");
    }
    long headerLen = buf.getLong();
    if (headerLen < 2 || headerLen > MAX_HEADER || 8 + headerLen > bytes.length) {
      throw new SpecException(
          source + ": not a safetensors file or truncated (header length " + headerLen + ")");
    }
    Map<String, Object> header;
    try {
      header =
          MAPPER.readValue(
              new String(bytes, 8, (int) headerLen, StandardCharsets.UTF_8).trim(),
              new TypeReference<LinkedHashMap<String, Object>>() {});
    } catch (IOException e) {
      throw new SpecException(source + ": corrupt safetensors header: " + e.getMessage(), e);
    }
    long dataStart = 8 + headerLen;
    Map<String, String> metadata = new LinkedHashMap<>();
    Map<String, Tensor> tensors = new LinkedHashMap<>();
    for (var e : header.entrySet()) {
      if (e.getKey().equals("__metadata__")) {
        if (!(e.getValue() instanceof Map<?, ?> m)) {
          throw new SpecException(
              source + ": corrupt safetensors header: __metadata__ is not an object");
        }
        m.forEach((k, v) -> metadata.put(String.valueOf(k), String.valueOf(v)));
        continue;
      }
      String what = source + ": tensor '" + e.getKey() + "'";
      if (!(e.getValue() instanceof Map<?, ?> info)) {
        throw new SpecException(
            what
                + ": corrupt safetensors header (expected an object with dtype,"
                + " shape and data_offsets)");
      }
      if (!"F32".equals(info.get("dtype"))) {
        throw new SpecException(
            what + " has dtype " + info.get("dtype") + ", only F32 is supported");
      }
      long[] shape = longs(info.get("shape"), -1, what + ": shape");
      long[] offsets = longs(info.get("data_offsets"), 2, what + ": data_offsets");
      long begin = offsets[0];
      long end = offsets[1];
      if (end < begin || end > bytes.length - dataStart) {
        throw new SpecException(what + ": truncated: it lies beyond the end of the file");
      }
      if ((end - begin) % 4 != 0) {
        throw new SpecException(
            what + ": " + (end - begin) + " data bytes is not a whole number of F32 values");
      }
      float[] data = new float[(int) ((end - begin) / 4)];
      ByteBuffer.wrap(bytes, (int) (dataStart + begin), (int) (end - begin))
          .order(ByteOrder.LITTLE_ENDIAN)
          .asFloatBuffer()
          .get(data);
      try {
        tensors.put(e.getKey(), new Tensor(shape, data));
      } catch (IllegalArgumentException ex) {
        throw new SpecException(what + ": " + ex.getMessage());
      }
    }
    return new Contents(tensors, metadata);
  }

  /** A header list of non-negative integers ({@code size} of them, or any number if -1). */
  private static long[] longs(Object value, int size, String what) {
    if (!(value instanceof List<?> list) || (size >= 0 && list.size() != size)) {
      throw new SpecException(
          what + " is missing or not a list" + (size >= 0 ? " of " + size : "") + " of integers");
    }
    long[] out = new long[list.size()];
    for (int i = 0; i < out.length; i++) {
      if (!(list.get(i) instanceof Integer || list.get(i) instanceof Long)
          || ((Number) list.get(i)).longValue() < 0) {
        throw new SpecException(what + " has " + list.get(i) + ", expected a non-negative integer");
      }
      out[i] = ((Number) list.get(i)).longValue();
    }
    return out;
  }

  /** Names of the tensors in sorted order (for messages). */
  static List<String> names(Map<String, Tensor> tensors) {
    return new ArrayList<>(new TreeMap<>(tensors).keySet());
  }
}
