package dev.arat.onnx;

import ai.onnx.proto.OnnxMl.ModelProto;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.arat.onnx.grad.GradientGraphBuilder;
import dev.arat.onnx.scan.GraphScan;
import dev.arat.specs.LossHead;

/**
 * Fuzzes what {@code arat inspect} does with a model file: parse and check it, scan the graph, and
 * build the input-gradient graph. Any bytes must get through or give an {@link OnnxModelException}
 * (exit 2). Without {@code JAZZER_FUZZ} this replays {@code OnnxModelFuzzTestInputs/onnxModel/};
 * see docs/fuzzing.md.
 */
class OnnxModelFuzzTest {
  @FuzzTest(maxDuration = "3m")
  void onnxModel(byte[] input) {
    ModelProto m;
    try {
      m = OnnxModels.parse(input, "model file 'model.onnx'");
    } catch (OnnxModelException expected) {
      return; // a clear input error is the right answer to a bad file
    }
    try {
      GraphScan.scan(m);
      new GradientGraphBuilder().build(m, LossHead.CE);
    } catch (OnnxModelException expected) {
      // a clear input error, or "white-box attacks: NOT POSSIBLE" with this message
    }
  }
}
