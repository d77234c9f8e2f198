package dev.arat.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.google.protobuf.ByteString;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The canonical digest ignores the certificate and nothing else. */
class ModelDigestTest {
  static ModelProto withMeta(ModelProto m, String key, String value) {
    return m.toBuilder()
        .addMetadataProps(StringStringEntryProto.newBuilder().setKey(key).setValue(value))
        .build();
  }

  @Test
  void certificateEntriesDoNotChangeTheDigestButWeightsAndOtherMetadataDo() {
    ModelProto m = TestModels.nearestMean(0);
    String d = ModelDigest.of(m);
    assertEquals(64, d.length());
    ModelProto certified =
        new Certificate(Map.of("version", "1", "robust_accuracy", "0.5")).writeInto(m);
    assertNotEquals(Hashes.sha256(m.toByteArray()), Hashes.sha256(certified.toByteArray()));
    assertEquals(d, ModelDigest.of(certified));
    ModelProto recertified =
        new Certificate(Map.of("version", "1", "robust_accuracy", "0.7")).writeInto(certified);
    assertEquals(d, ModelDigest.of(recertified));
    assertEquals("0.7", Certificate.read(recertified).get("robust_accuracy"));
    assertEquals(
        2,
        recertified.getMetadataPropsList().stream()
            .filter(e -> e.getKey().startsWith(Certificate.PREFIX))
            .count());

    // one weight byte
    TensorProto w = m.getGraph().getInitializer(0);
    byte[] raw = w.getRawData().toByteArray();
    if (raw.length > 0) {
      raw[17] ^= 1;
      w = w.toBuilder().setRawData(ByteString.copyFrom(raw)).build();
    } else {
      w = w.toBuilder().setFloatData(3, w.getFloatData(3) + 1e-3f).build();
    }
    ModelProto tampered =
        m.toBuilder().setGraph(m.getGraph().toBuilder().setInitializer(0, w)).build();
    assertNotEquals(d, ModelDigest.of(tampered));
    // other metadata is covered
    assertNotEquals(d, ModelDigest.of(withMeta(m, "arat.precision", "int8")));
    assertNull(Certificate.read(m));
  }

  @Test
  void theDigestDoesNotDependOnTheWritersFieldOrder() throws Exception {
    ModelProto m = TestModels.nearestMean(0);
    // the same message with the graph (field 7) written before ir_version (field 1): another
    // writer's order
    byte[] graphFirst =
        concat(
            m.toBuilder()
                .clearIrVersion()
                .clearOpsetImport()
                .clearMetadataProps()
                .clearProducerName()
                .clearProducerVersion()
                .build()
                .toByteArray(),
            ModelProto.newBuilder()
                .setIrVersion(m.getIrVersion())
                .addAllOpsetImport(m.getOpsetImportList())
                .setProducerName(m.getProducerName())
                .setProducerVersion(m.getProducerVersion())
                .addAllMetadataProps(m.getMetadataPropsList())
                .build()
                .toByteArray());
    ModelProto reparsed = ModelProto.parseFrom(graphFirst);
    assertNotEquals(Hashes.sha256(m.toByteArray()), Hashes.sha256(graphFirst));
    assertEquals(ModelDigest.of(m), ModelDigest.of(reparsed));
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = new byte[a.length + b.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
