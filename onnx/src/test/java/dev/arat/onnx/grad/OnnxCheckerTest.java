package dev.arat.onnx.grad;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.onnx.OnnxModels;
import dev.arat.specs.LossHead;
import dev.arat.testsupport.OnnxChecker;
import dev.arat.testsupport.Python;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the official ONNX checker ({@code onnx.checker.check_model(m, full_check=True)}, which also
 * runs ONNX shape inference) on forward and gradient models; skipped when {@code python3 -c "import
 * onnx"} does not work on this machine.
 */
class OnnxCheckerTest {
  @TempDir Path dir;

  @Test
  void forwardAndGradientModelsPassTheOnnxChecker() throws Exception {
    Python.assumeModules("onnx");
    List<Path> files = new ArrayList<>();
    List<ModelProto> forwards = List.of(Models.cnn(1), Models.norm(2, false), Models.norm(3, true));
    for (int i = 0; i < forwards.size(); i++) {
      Path f = dir.resolve("fwd" + i + ".onnx");
      OnnxModels.save(forwards.get(i), f);
      files.add(f);
      for (LossHead h : LossHead.values()) {
        Path gpath = dir.resolve("grad" + i + "_" + h.id() + ".onnx");
        OnnxModels.save(new GradientGraphBuilder().build(forwards.get(i), h).model(), gpath);
        files.add(gpath);
      }
    }
    OnnxChecker.assertAccepts(files);
  }
}
