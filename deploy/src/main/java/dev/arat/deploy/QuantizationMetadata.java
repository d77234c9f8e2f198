package dev.arat.deploy;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The {@code metadata_props} keys a quantized or float16 variant carries (namespaced {@code
 * arat.quantize.}, next to the parent's own metadata, which is kept).
 */
public final class QuantizationMetadata {
  /** {@code int8} or {@code fp16}. */
  public static final String PRECISION = "arat.quantize.precision";

  /** Calibration method id ({@link Calibration#id()}); int8 only. */
  public static final String CALIBRATION = "arat.quantize.calibration";

  /** Number of calibration images; int8 only. */
  public static final String CALIBRATION_SAMPLES = "arat.quantize.calibration_samples";

  /** SHA-256 of the calibration images and labels; int8 only. */
  public static final String CALIBRATION_SHA256 = "arat.quantize.calibration_sha256";

  /** Where the calibration images came from (dataset, split, count); int8 only. */
  public static final String CALIBRATION_SOURCE = "arat.quantize.calibration_source";

  /** SHA-256 of the parent (float32) ONNX file. */
  public static final String PARENT_SHA256 = "arat.quantize.parent_sha256";

  /** Version of the tool that made the variant. */
  public static final String TOOL_VERSION = "arat.quantize.tool_version";

  /** The Q/DQ placement rules followed (int8). */
  public static final String PLACEMENT = "arat.quantize.placement";

  private QuantizationMetadata() {}

  /**
   * Who made a variant from what.
   *
   * @param parentSha256 SHA-256 (hex) of the parent ONNX file's bytes
   * @param toolVersion the arat version
   */
  public record Provenance(String parentSha256, String toolVersion) {}

  /** {@code model} with {@code entries} set (replacing earlier values of the same keys). */
  static ModelProto with(ModelProto model, Map<String, String> entries) {
    Map<String, String> all = new LinkedHashMap<>();
    for (StringStringEntryProto e : model.getMetadataPropsList()) {
      all.put(e.getKey(), e.getValue());
    }
    all.putAll(entries);
    ModelProto.Builder b = model.toBuilder().clearMetadataProps();
    all.forEach(
        (k, v) -> b.addMetadataProps(StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
    return b.build();
  }

  /** The metadata of {@code model} as a map. */
  public static Map<String, String> of(ModelProto model) {
    Map<String, String> all = new LinkedHashMap<>();
    for (StringStringEntryProto e : model.getMetadataPropsList()) {
      all.put(e.getKey(), e.getValue());
    }
    return all;
  }
}
