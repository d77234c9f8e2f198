package dev.arat.exporter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.attack.Classifier;
import dev.arat.attack.ImageBatch;
import dev.arat.data.ImageDataset;
import dev.arat.data.SyntheticDataset;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.onnx.OnnxModels;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.Architectures;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.Tensor;
import dev.arat.specs.TrainingState;
import dev.arat.testsupport.OnnxChecker;
import dev.arat.testsupport.Python;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxExporterTest {
  @TempDir Path dir;

  private static final ArchitectureSpec ARCH =
      Architectures.smallCnn(1, 28, 28, 10, new float[] {0.29f}, new float[] {0.35f});

  private static ImageBatch images(int n) {
    ImageDataset d = SyntheticDataset.generate(9, n, 1, 28, 28, 10);
    return new ImageBatch(d.pixels(), n, 1, 28, 28);
  }

  @Test
  void foldedBatchNormMatchesBatchNormNodes() {
    Checkpoint ck = RandomCheckpoints.of(ARCH, 1);
    ModelProto folded = new OnnxExporter(BnBranch.ADV, true).export(ck, Map.of());
    ModelProto kept = new OnnxExporter(BnBranch.ADV, false).export(ck, Map.of());
    assertFalse(
        folded.getGraph().getNodeList().stream()
            .anyMatch(n -> n.getOpType().equals("BatchNormalization")));
    assertTrue(
        kept.getGraph().getNodeList().stream()
            .anyMatch(n -> n.getOpType().equals("BatchNormalization")));
    try (OrtClassifier a = new OrtClassifier(folded, "folded", 1);
        OrtClassifier b = new OrtClassifier(kept, "kept", 1)) {
      ParityCheck.Result r = ParityCheck.compare(b, a, images(64), 1e-5, 32);
      assertTrue(r.passed(), r.summary());
      assertEquals(1.0, r.argmaxAgreement());
      assertTrue(r.maxAbsLogit() > 0.1, "logits should not be trivially small: " + r.maxAbsLogit());
    }
  }

  @Test
  void branchesDifferAndParityDetectsIt() {
    Checkpoint ck = RandomCheckpoints.of(ARCH, 2);
    try (OrtClassifier adv =
            new OrtClassifier(new OnnxExporter(BnBranch.ADV, true).export(ck, Map.of()), "adv", 1);
        OrtClassifier clean =
            new OrtClassifier(
                new OnnxExporter(BnBranch.CLEAN, true).export(ck, Map.of()), "clean", 1)) {
      ParityCheck.Result r = ParityCheck.compare(adv, clean, images(32), 1e-3, 32);
      assertFalse(r.passed(), "different BN branches must not pass parity: " + r.summary());
    }
  }

  @Test
  void provenanceIsWrittenInKeyOrderWhateverTheMapsOrder() {
    Checkpoint ck = RandomCheckpoints.of(ARCH, 4);
    Map<String, String> prov = new HashMap<>();
    for (int i = 0; i < 40; i++) {
      prov.put("key" + (i * 7919 % 40), "v" + i);
    }
    Checkpoint many =
        new Checkpoint(
            ck.architecture(),
            ck.recipe(),
            ck.weights(),
            Map.of(),
            new TrainingState(1, 0, 10, 0.5, 0, prov));
    List<String> keys =
        new OnnxExporter()
            .export(many, Map.of()).getMetadataPropsList().stream()
                .map(e -> e.getKey())
                .filter(k -> k.startsWith("arat.key"))
                .toList();
    assertEquals(40, keys.size());
    assertEquals(keys.stream().sorted().toList(), keys);
  }

  @Test
  void theCallersMetadataInAnyOrderGivesTheSameBytes() {
    Checkpoint ck = RandomCheckpoints.of(ARCH, 6);
    Map<String, String> one = new java.util.LinkedHashMap<>();
    one.put("arat.checkpoint", "epoch-0001");
    one.put("arat.checkpoint_sha256", "abc");
    one.put("arat.tool_version", "0.1.0");
    Map<String, String> other = new java.util.LinkedHashMap<>();
    other.put("arat.tool_version", "0.1.0");
    other.put("arat.checkpoint_sha256", "abc");
    other.put("arat.checkpoint", "epoch-0001");
    OnnxExporter exporter = new OnnxExporter();
    assertArrayEquals(
        exporter.export(ck, one).toByteArray(), exporter.export(ck, other).toByteArray());
  }

  @Test
  void metadataCarriesProvenance() throws Exception {
    Checkpoint ck = RandomCheckpoints.of(ARCH, 3);
    ModelProto m = new OnnxExporter().export(ck, Map.of("arat.checkpoint_sha256", "abc"));
    Map<String, String> meta =
        m.getMetadataPropsList().stream()
            .collect(Collectors.toMap(e -> e.getKey(), e -> e.getValue()));
    assertEquals("arat", meta.get("arat.training_method"));
    assertEquals("adv", meta.get("arat.bn_branch"));
    assertEquals("abc", meta.get("arat.checkpoint_sha256"));
    assertEquals("test", meta.get("arat.tool_version"));
    assertTrue(meta.get("arat.threat_model").startsWith("Linf eps="));
    assertTrue(meta.get("arat.architecture").contains("\"conv1\""));
    assertEquals(8, m.getIrVersion());
    assertEquals(OnnxExporter.OPSET, m.getOpsetImport(0).getVersion());
    Path file = dir.resolve("m.onnx");
    OnnxModels.save(m, file);
    try (OrtClassifier c = OrtClassifier.open(file)) {
      assertEquals(10, c.numClasses());
      assertEquals("adv", c.metadata().get("arat.bn_branch"));
      float[] logits = c.logits(images(3));
      assertEquals(30, logits.length);
    }
  }

  @Test
  void debianOnnxCheckerAcceptsTheModel() throws Exception {
    Python.assumeModules("onnx");
    Path file = dir.resolve("checked.onnx");
    OnnxModels.save(new OnnxExporter().export(RandomCheckpoints.of(ARCH, 4), Map.of()), file);
    OnnxChecker.assertAccepts(List.of(file));
  }

  @Test
  void badCheckpointsAreClearErrors() {
    Checkpoint ck = RandomCheckpoints.of(ARCH, 5);
    Map<String, Tensor> missing = new HashMap<>(ck.weights());
    missing.remove("bn2.adv.running_var");
    ExportException e =
        assertThrows(
            ExportException.class,
            () ->
                new OnnxExporter()
                    .export(
                        new Checkpoint(
                            ck.architecture(), ck.recipe(), missing, Map.of(), ck.state()),
                        Map.of()));
    assertTrue(e.getMessage().contains("bn2.adv.running_var"), e.getMessage());

    Map<String, Tensor> nan = new HashMap<>(ck.weights());
    float[] v = nan.get("fc2.bias").data().clone();
    v[3] = Float.NaN;
    nan.put("fc2.bias", new Tensor(new long[] {10}, v));
    e =
        assertThrows(
            ExportException.class,
            () ->
                new OnnxExporter()
                    .export(
                        new Checkpoint(ck.architecture(), ck.recipe(), nan, Map.of(), ck.state()),
                        Map.of()));
    assertTrue(e.getMessage().contains("NaN"), e.getMessage());

    Map<String, Tensor> shape = new HashMap<>(ck.weights());
    shape.put("fc1.weight", new Tensor(new long[] {2, 2}, new float[4]));
    e =
        assertThrows(
            ExportException.class,
            () ->
                new OnnxExporter()
                    .export(
                        new Checkpoint(ck.architecture(), ck.recipe(), shape, Map.of(), ck.state()),
                        Map.of()));
    assertTrue(
        e.getMessage().contains("fc1.weight") && e.getMessage().contains("[256, 3136]"),
        e.getMessage());
  }

  @Test
  void parityReportsNonFiniteAndClassMismatch() {
    Classifier nanModel =
        new Classifier() {
          public int numClasses() {
            return 2;
          }

          public float[] logits(ImageBatch x) {
            float[] out = new float[x.n() * 2];
            out[0] = Float.NaN;
            return out;
          }
        };
    Classifier zero =
        new Classifier() {
          public int numClasses() {
            return 2;
          }

          public float[] logits(ImageBatch x) {
            return new float[x.n() * 2];
          }
        };
    assertFalse(ParityCheck.compare(zero, nanModel, images(4), 1e-3, 4).passed());
    assertTrue(ParityCheck.compare(zero, zero, images(4), 1e-3, 4).passed());
    // the tolerance scales with the logits: 0.02 on logits of 1e5 is float32 rounding, on logits of
    // 1 it is not
    assertTrue(
        ParityCheck.compare(constant(1e5f), constant(1e5f + 0.02f), images(4), 1e-3, 4).passed());
    assertFalse(ParityCheck.compare(constant(1f), constant(1.02f), images(4), 1e-3, 4).passed());
  }

  private static Classifier constant(float value) {
    return new Classifier() {
      public int numClasses() {
        return 2;
      }

      public float[] logits(ImageBatch x) {
        float[] out = new float[x.n() * 2];
        java.util.Arrays.fill(out, value);
        return out;
      }
    };
  }
}
