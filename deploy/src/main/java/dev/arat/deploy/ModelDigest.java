package dev.arat.deploy;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import com.google.protobuf.CodedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * The canonical digest of an ONNX model, which the certificate inside the model refers to (writing
 * the certificate into {@code metadata_props} changes the file's bytes, so the file's SHA-256
 * cannot be in it).
 *
 * <p>Definition ({@value #METHOD}): parse the file as an ONNX {@code ModelProto}; remove every
 * {@code metadata_props} entry whose key starts with {@value Certificate#PREFIX}, keeping all other
 * entries in their order; serialize the result with protobuf-java in deterministic mode (known
 * fields in field-number order, unknown fields kept after them); the digest is the lowercase hex
 * SHA-256 of those bytes. Every other field (graph, weights, opsets, producer, other metadata such
 * as the exporter's {@code arat.*} provenance or the quantizer's {@code arat.precision}) is
 * covered. Re-serializing makes the digest independent of the field order and packing another
 * protobuf writer (Python's onnx, PyTorch) chose; a model file that arat never touched has the same
 * canonical digest as its certified copy.
 */
public final class ModelDigest {
  /** Name of this definition, recorded next to the digest. */
  public static final String METHOD = "arat-canonical-v1";

  private ModelDigest() {}

  /** The canonical digest (lowercase hex SHA-256) of {@code model}. */
  public static String of(ModelProto model) {
    return Hashes.sha256(canonicalBytes(model));
  }

  /** {@code model} without its certificate entries, serialized deterministically. */
  static byte[] canonicalBytes(ModelProto model) {
    ModelProto bare = withoutCertificate(model);
    try {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream(bare.getSerializedSize());
      CodedOutputStream out = CodedOutputStream.newInstance(bytes);
      out.useDeterministicSerialization();
      bare.writeTo(out);
      out.flush();
      return bytes.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** {@code model} with every {@value Certificate#PREFIX}{@code *} metadata entry removed. */
  static ModelProto withoutCertificate(ModelProto model) {
    List<StringStringEntryProto> kept =
        model.getMetadataPropsList().stream()
            .filter(e -> !e.getKey().startsWith(Certificate.PREFIX))
            .toList();
    return model.toBuilder().clearMetadataProps().addAllMetadataProps(kept).build();
  }
}
