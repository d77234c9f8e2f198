package dev.arat.onnx.grad;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The supported-op list ({@code arat inspect} prints it) is the rule table's key set. */
class GradientRulesTest {
  @Test
  void supportedOpsAreTheRuleTableKeys() {
    List<String> expected =
        List.of(
            "Abs",
            "Add",
            "AveragePool",
            "BatchNormalization",
            "Cast",
            "Clip",
            "Concat",
            "Conv",
            "Div",
            "Dropout",
            "Erf",
            "Exp",
            "Expand",
            "Flatten",
            "Gather",
            "Gelu",
            "Gemm",
            "GlobalAveragePool",
            "GlobalMaxPool",
            "HardSigmoid",
            "HardSwish",
            "Identity",
            "LayerNormalization",
            "LeakyRelu",
            "Log",
            "LogSoftmax",
            "MatMul",
            "MaxPool",
            "Mul",
            "Neg",
            "PRelu",
            "Pad",
            "Pow",
            "Reciprocal",
            "ReduceMean",
            "ReduceSum",
            "Relu",
            "Reshape",
            "Resize",
            "Sigmoid",
            "Slice",
            "Softmax",
            "Split",
            "Sqrt",
            "Squeeze",
            "Sub",
            "Sum",
            "Tanh",
            "Transpose",
            "Unsqueeze",
            "Where");
    assertEquals(expected, List.copyOf(GradientGraphBuilder.supportedOps()));
    for (String op : expected) {
      assertEquals(op.equals("Split"), GradientRules.get(op).allOutputs(), op);
    }
  }
}
