package dev.arat.evaluator.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import dev.arat.evaluator.Fixtures;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.evaluator.report.Report;
import dev.arat.onnx.OnnxModelException;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.Specs;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model with external data: ONNX Runtime gets the data arat read from the model's folder (never a
 * file the model names elsewhere), and the report's model digest covers that data.
 */
class ExternalDataEvaluationTest {
  static final String SQUARE_ONLY =
      String.join(
          "\n",
          "name: square-only",
          "data: {dataset: synthetic}",
          "samples: 8",
          "seed: 1",
          "threat_model: {norm: Linf, epsilon: 0.05}",
          "attacks:",
          "  - type: square",
          "    queries: 5",
          "");

  @TempDir Path dir;

  /** The nearest-mean fixture with {@code fc.weight} moved to external file {@code location}. */
  static ModelProto externalWeight(String location) {
    ModelProto m = Fixtures.onnx(Fixtures.syntheticNearestMean(), false, false);
    var g = m.getGraph().toBuilder();
    for (int i = 0; i < g.getInitializerCount(); i++) {
      TensorProto t = g.getInitializer(i);
      if (t.getName().equals("fc.weight")) {
        g.setInitializer(
            i,
            t.toBuilder()
                .clearRawData()
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(
                    StringStringEntryProto.newBuilder().setKey("location").setValue(location))
                .build());
      }
    }
    return m.toBuilder().setGraph(g).build();
  }

  static byte[] weightBytes() {
    ModelProto m = Fixtures.onnx(Fixtures.syntheticNearestMean(), false, false);
    return m.getGraph().getInitializerList().stream()
        .filter(t -> t.getName().equals("fc.weight"))
        .findFirst()
        .orElseThrow()
        .getRawData()
        .toByteArray();
  }

  static SuiteRunner quietRunner() {
    return new SuiteRunner(1, new PrintStream(OutputStream.nullOutputStream()), false);
  }

  @Test
  void squareOnlySuiteOnExternalDataPointingToEtcPasswdIsRefused() throws Exception {
    Path model = dir.resolve("model.onnx");
    Files.write(model, externalWeight("/etc/passwd").toByteArray());
    EvaluationSuite suite = Specs.parse(SQUARE_ONLY, EvaluationSuite.class, "suite.yaml");
    OnnxModelException e =
        assertThrows(
            OnnxModelException.class,
            () -> quietRunner().run(model, suite, null, dir.resolve("eval")));
    assertTrue(e.getMessage().contains("'/etc/passwd' is refused"), e.getMessage());
  }

  @Test
  void externalDataInsideTheFolderIsEvaluatedAndInTheDigest() throws Exception {
    Path model = dir.resolve("model.onnx");
    Files.write(model, externalWeight("fc.weight.bin").toByteArray());
    Files.write(dir.resolve("fc.weight.bin"), weightBytes());
    EvaluationSuite suite = Specs.parse(SQUARE_ONLY, EvaluationSuite.class, "suite.yaml");
    Report r = quietRunner().run(model, suite, null, dir.resolve("eval"));

    MessageDigest md = MessageDigest.getInstance("SHA-256");
    md.update(Files.readAllBytes(model));
    md.update(weightBytes());
    assertEquals(HexFormat.of().formatHex(md.digest()), r.model().sha256());

    // the same model inline gives the same clean accuracy: ONNX Runtime saw the external weights
    Path inline = dir.resolve("inline.onnx");
    Files.write(inline, Fixtures.onnx(Fixtures.syntheticNearestMean(), false, false).toByteArray());
    Report ri = quietRunner().run(inline, suite, null, dir.resolve("eval-inline"));
    assertEquals(ri.cleanAccuracy(), r.cleanAccuracy());
    assertTrue(r.cleanAccuracy() > 0.5, "clean accuracy " + r.cleanAccuracy());
  }

  @Test
  void anInMemoryModelWithExternalDataNeverReachesOnnxRuntime() {
    assertThrows(
        OnnxModelException.class, () -> new OrtClassifier(externalWeight("/etc/passwd"), "m", 1));
  }
}
