package dev.arat.onnx;

import ai.onnx.proto.OnnxMl.TensorProto;
import ai.onnx.proto.OnnxMl.TensorShapeProto;
import ai.onnx.proto.OnnxMl.TypeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Conversions between Java arrays and ONNX {@code TensorProto}/{@code ValueInfoProto} messages.
 *
 * <p>Tensors are written with {@code raw_data} in little-endian order, row-major (C order), as the
 * ONNX specification requires; readers accept both {@code raw_data} and the typed repeated fields.
 */
public final class Tensors {
  /** ONNX data type code for float32. */
  public static final int FLOAT = TensorProto.DataType.FLOAT_VALUE;

  /** ONNX data type code for int64. */
  public static final int INT64 = TensorProto.DataType.INT64_VALUE;

  /** ONNX data type code for bool. */
  public static final int BOOL = TensorProto.DataType.BOOL_VALUE;

  /** ONNX element type code of float16. */
  public static final int FLOAT16 = TensorProto.DataType.FLOAT16_VALUE;

  /** ONNX element type code of int8. */
  public static final int INT8 = TensorProto.DataType.INT8_VALUE;

  /** ONNX element type code of uint8. */
  public static final int UINT8 = TensorProto.DataType.UINT8_VALUE;

  private Tensors() {}

  /**
   * Makes a float32 tensor.
   *
   * @param name tensor name
   * @param data values in row-major order; length must equal the product of {@code shape}
   * @param shape dimensions, each {@code >= 0}; empty for a scalar
   */
  public static TensorProto floatTensor(String name, float[] data, long... shape) {
    checkCount(name, data.length, shape);
    ByteBuffer buf = ByteBuffer.allocate(4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
    buf.asFloatBuffer().put(data);
    TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(FLOAT);
    for (long d : shape) {
      b.addDims(d);
    }
    return b.setRawData(ByteString.copyFrom(buf.array())).build();
  }

  /**
   * Makes an int64 tensor.
   *
   * @param name tensor name
   * @param data values in row-major order; length must equal the product of {@code shape}
   * @param shape dimensions, each {@code >= 0}; empty for a scalar
   */
  public static TensorProto int64Tensor(String name, long[] data, long... shape) {
    checkCount(name, data.length, shape);
    ByteBuffer buf = ByteBuffer.allocate(8 * data.length).order(ByteOrder.LITTLE_ENDIAN);
    buf.asLongBuffer().put(data);
    TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(INT64);
    for (long d : shape) {
      b.addDims(d);
    }
    return b.setRawData(ByteString.copyFrom(buf.array())).build();
  }

  /** The dimensions of a tensor message. */
  public static long[] dims(TensorProto t) {
    return t.getDimsList().stream().mapToLong(Long::longValue).toArray();
  }

  /** The number of elements of a shape (1 for a scalar). */
  public static long numel(long... shape) {
    long n = 1;
    for (long d : shape) {
      n *= d;
    }
    return n;
  }

  /**
   * Reads a float32 tensor's values (row-major).
   *
   * @throws OnnxModelException if the tensor is not float32 or stored externally
   */
  public static float[] toFloatArray(TensorProto t) {
    if (t.getDataType() != FLOAT) {
      throw new OnnxModelException(
          "tensor '"
              + t.getName()
              + "' has data type "
              + t.getDataType()
              + ", expected float32 (1)");
    }
    checkInline(t);
    int n = checkedCount(t, 4, t.getFloatDataCount());
    if (!t.getRawData().isEmpty()) {
      float[] out = new float[n];
      t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
      return out;
    }
    float[] out = new float[t.getFloatDataCount()];
    for (int i = 0; i < out.length; i++) {
      out[i] = t.getFloatData(i);
    }
    return out;
  }

  /**
   * Reads an integer tensor's values as {@code long} (int64, int32, int8 or uint8, row-major).
   *
   * @throws OnnxModelException if the tensor is not int64/int32 or stored externally
   */
  public static long[] toLongArray(TensorProto t) {
    checkInline(t);
    if (t.getDataType() == INT64) {
      int n = checkedCount(t, 8, t.getInt64DataCount());
      if (!t.getRawData().isEmpty()) {
        long[] out = new long[n];
        t.getRawData()
            .asReadOnlyByteBuffer()
            .order(ByteOrder.LITTLE_ENDIAN)
            .asLongBuffer()
            .get(out);
        return out;
      }
      return t.getInt64DataList().stream().mapToLong(Long::longValue).toArray();
    }
    if (t.getDataType() == TensorProto.DataType.INT32_VALUE) {
      int n = checkedCount(t, 4, t.getInt32DataCount());
      if (!t.getRawData().isEmpty()) {
        int[] tmp = new int[n];
        t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(tmp);
        return Arrays.stream(tmp).asLongStream().toArray();
      }
      return t.getInt32DataList().stream().mapToLong(Integer::longValue).toArray();
    }
    if (t.getDataType() == INT8 || t.getDataType() == UINT8) {
      boolean signed = t.getDataType() == INT8;
      if (!t.getRawData().isEmpty()) {
        byte[] raw = t.getRawData().toByteArray();
        long[] out = new long[raw.length];
        for (int i = 0; i < raw.length; i++) {
          out[i] = signed ? raw[i] : raw[i] & 0xff;
        }
        return out;
      }
      return t.getInt32DataList().stream().mapToLong(Integer::longValue).toArray();
    }
    throw new OnnxModelException(
        "tensor '" + t.getName() + "' has data type " + t.getDataType() + ", expected int64 (7)");
  }

  /**
   * Makes an int8 tensor (raw little-endian storage).
   *
   * @param name tensor name
   * @param data values in row-major order, each in [-128, 127]
   * @param shape dimensions; empty for a scalar
   */
  public static TensorProto int8Tensor(String name, byte[] data, long... shape) {
    checkCount(name, data.length, shape);
    TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(INT8);
    for (long d : shape) {
      b.addDims(d);
    }
    return b.setRawData(ByteString.copyFrom(data)).build();
  }

  /**
   * Makes a float16 tensor from float32 values, each rounded to the nearest float16 (ties to even,
   * as IEEE 754 and numpy's {@code astype(float16)}).
   *
   * @param name tensor name
   * @param data float32 values in row-major order
   * @param shape dimensions; empty for a scalar
   */
  public static TensorProto float16Tensor(String name, float[] data, long... shape) {
    checkCount(name, data.length, shape);
    ByteBuffer buf = ByteBuffer.allocate(2 * data.length).order(ByteOrder.LITTLE_ENDIAN);
    for (float f : data) {
      buf.putShort(toHalf(f));
    }
    TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(FLOAT16);
    for (long d : shape) {
      b.addDims(d);
    }
    return b.setRawData(ByteString.copyFrom(buf.array())).build();
  }

  /**
   * Reads a float16 tensor's values, widened exactly to float32.
   *
   * @throws OnnxModelException if the tensor is not float16 or stored externally
   */
  public static float[] float16ToFloatArray(TensorProto t) {
    if (t.getDataType() != FLOAT16) {
      throw new OnnxModelException(
          "tensor '"
              + t.getName()
              + "' has data type "
              + t.getDataType()
              + ", expected float16 (10)");
    }
    checkInline(t);
    int n = (int) numel(dims(t));
    float[] out = new float[n];
    if (!t.getRawData().isEmpty()) {
      ByteBuffer bb = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
      for (int i = 0; i < n; i++) {
        out[i] = fromHalf(bb.getShort());
      }
      return out;
    }
    for (int i = 0; i < n; i++) {
      out[i] = fromHalf((short) t.getInt32Data(i)); // float16 bits in the low 16 bits
    }
    return out;
  }

  /** The float16 bits nearest to {@code f} (round to nearest, ties to even; overflow to inf). */
  public static short toHalf(float f) {
    int bits = Float.floatToRawIntBits(f);
    int sign = (bits >>> 16) & 0x8000;
    int val = bits & 0x7fffffff;
    if (val >= 0x7f800000) {
      return (short) (sign | 0x7c00 | (val > 0x7f800000 ? 0x200 : 0));
    }
    if (val >= 0x477ff000) {
      return (short) (sign | 0x7c00);
    }
    if (val < 0x38800000) { // below the smallest normal float16, 2^-14: subnormal or zero
      int exp = val >>> 23;
      if (exp < 102) {
        return (short) sign;
      }
      int mant = (val & 0x7fffff) | 0x800000;
      int shift = 126 - exp;
      int m = mant >>> shift;
      int rem = mant & ((1 << shift) - 1);
      int half = 1 << (shift - 1);
      if (rem > half || (rem == half && (m & 1) != 0)) {
        m++;
      }
      return (short) (sign | m);
    }
    int h = ((((val >>> 23) - 127 + 15)) << 10) | ((val & 0x7fffff) >>> 13);
    int rem = val & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1) != 0)) {
      h++;
    }
    return (short) (sign | h);
  }

  /** The float32 value of float16 bits {@code h} (exact). */
  public static float fromHalf(short h) {
    int s = (h & 0x8000) << 16;
    int e = (h >>> 10) & 0x1f;
    int m = h & 0x3ff;
    if (e == 0) {
      float v = m * 0x1p-24f;
      return s != 0 ? -v : v;
    }
    if (e == 31) {
      return Float.intBitsToFloat(s | 0x7f800000 | (m << 13));
    }
    return Float.intBitsToFloat(s | ((e - 15 + 127) << 23) | (m << 13));
  }

  /**
   * The element count of a tensor's shape, checked against the data it carries: raw bytes ({@code
   * elemBytes} each) or {@code typedCount} typed values. A model from a stranger can claim any
   * shape; a mismatch must be a clear error, not an underflow or a huge allocation.
   *
   * @throws OnnxModelException if a dimension is negative, the count exceeds 2^31 - 1, or the data
   *     does not hold exactly that many values
   */
  private static int checkedCount(TensorProto t, int elemBytes, int typedCount) {
    long n = 1;
    for (long d : t.getDimsList()) {
      if (d < 0 || (d != 0 && n > Integer.MAX_VALUE / d)) {
        throw new OnnxModelException(
            "tensor '" + t.getName() + "' has an invalid or too large shape " + t.getDimsList());
      }
      n *= d;
    }
    long have = t.getRawData().isEmpty() ? typedCount : t.getRawData().size();
    long need = t.getRawData().isEmpty() ? n : n * elemBytes;
    if (have != need) {
      throw new OnnxModelException(
          "tensor '"
              + t.getName()
              + "' has shape "
              + t.getDimsList()
              + " ("
              + n
              + " values) but "
              + (t.getRawData().isEmpty() ? have + " values" : have + " bytes of raw data")
              + " (the model is corrupt)");
    }
    return (int) n;
  }

  /**
   * Makes a tensor value-info (name, element type, shape).
   *
   * @param name tensor name
   * @param elemType ONNX data type code, e.g. {@link #FLOAT} or {@link #INT64}
   * @param dims each a {@link Number} (fixed size) or a {@link String} (symbolic {@code dim_param},
   *     e.g. {@code "N"}) or {@code null} (unknown); a {@code null} array declares no shape at all
   */
  public static ValueInfoProto valueInfo(String name, int elemType, Object... dims) {
    if (dims == null) {
      return ValueInfoProto.newBuilder()
          .setName(name)
          .setType(
              TypeProto.newBuilder()
                  .setTensorType(TypeProto.Tensor.newBuilder().setElemType(elemType)))
          .build();
    }
    TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
    for (Object d : dims) {
      TensorShapeProto.Dimension.Builder db = TensorShapeProto.Dimension.newBuilder();
      if (d instanceof Number num) {
        db.setDimValue(num.longValue());
      } else if (d instanceof String s) {
        db.setDimParam(s);
      } else if (d != null) {
        throw new IllegalArgumentException("dimension must be a Number, a String or null: " + d);
      }
      shape.addDim(db);
    }
    TypeProto type =
        TypeProto.newBuilder()
            .setTensorType(TypeProto.Tensor.newBuilder().setElemType(elemType).setShape(shape))
            .build();
    return ValueInfoProto.newBuilder().setName(name).setType(type).build();
  }

  /**
   * The dimensions declared by a value-info, with {@code -1} for symbolic or unknown dimensions.
   *
   * @return the dimensions, or {@code null} if the value-info has no tensor shape
   */
  public static long[] declaredDims(ValueInfoProto vi) {
    if (!vi.getType().hasTensorType() || !vi.getType().getTensorType().hasShape()) {
      return null;
    }
    TensorShapeProto s = vi.getType().getTensorType().getShape();
    long[] out = new long[s.getDimCount()];
    for (int i = 0; i < out.length; i++) {
      TensorShapeProto.Dimension d = s.getDim(i);
      out[i] = d.hasDimValue() ? d.getDimValue() : -1;
    }
    return out;
  }

  private static void checkInline(TensorProto t) {
    if (t.getDataLocation() == TensorProto.DataLocation.EXTERNAL || t.getExternalDataCount() > 0) {
      throw new OnnxModelException(
          "tensor '"
              + t.getName()
              + "' stores its data in an external file, which is not supported; save the model with"
              + " all tensors inline");
    }
  }

  private static void checkCount(String name, int count, long[] shape) {
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException(
            "tensor '" + name + "': negative dimension in " + Arrays.toString(shape));
      }
    }
    if (numel(shape) != count) {
      throw new IllegalArgumentException(
          "tensor '"
              + name
              + "': "
              + count
              + " values do not fill shape "
              + Arrays.toString(shape));
    }
  }
}
