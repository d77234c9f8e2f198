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
          "tensor '" + t.getName() + "' has data type " + t.getDataType() + ", expected float32 (1)");
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
   * Reads an integer tensor's values as {@code long} (int64 or int32 storage, row-major).
   *
   * @throws OnnxModelException if the tensor is not int64/int32 or stored externally
   */
  public static long[] toLongArray(TensorProto t) {
    checkInline(t);
    if (t.getDataType() == INT64) {
      int n = checkedCount(t, 8, t.getInt64DataCount());
      if (!t.getRawData().isEmpty()) {
        long[] out = new long[n];
        t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).asLongBuffer().get(out);
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
    throw new OnnxModelException(
        "tensor '" + t.getName() + "' has data type " + t.getDataType() + ", expected int64 (7)");
  }

  /**
   * The element count of a tensor's shape, checked against the data it carries: raw bytes
   * ({@code elemBytes} each) or {@code typedCount} typed values. A model from a stranger can claim
   * any shape; a mismatch must be a clear error, not an underflow or a huge allocation.
   *
   * @throws OnnxModelException if a dimension is negative, the count exceeds 2^31 - 1, or the data
   *     does not hold exactly that many values
   */
  private static int checkedCount(TensorProto t, int elemBytes, int typedCount) {
    long n = 1;
    for (long d : t.getDimsList()) {
      if (d < 0 || (d != 0 && n > Integer.MAX_VALUE / d)) {
        throw new OnnxModelException("tensor '" + t.getName() + "' has an invalid or too large shape "
            + t.getDimsList());
      }
      n *= d;
    }
    long have = t.getRawData().isEmpty() ? typedCount : t.getRawData().size();
    long need = t.getRawData().isEmpty() ? n : n * elemBytes;
    if (have != need) {
      throw new OnnxModelException("tensor '" + t.getName() + "' has shape " + t.getDimsList() + " ("
          + n + " values) but " + (t.getRawData().isEmpty() ? have + " values" : have + " bytes of raw data")
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
      return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder()
          .setTensorType(TypeProto.Tensor.newBuilder().setElemType(elemType))).build();
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
    TypeProto type = TypeProto.newBuilder()
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
      throw new OnnxModelException("tensor '" + t.getName()
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
      throw new IllegalArgumentException("tensor '" + name + "': " + count
          + " values do not fill shape " + Arrays.toString(shape));
    }
  }
}
