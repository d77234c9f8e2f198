package dev.arat.onnx.grad;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.specs.LossHead;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class GradientGraphBuilderTest {

  @ParameterizedTest
  @EnumSource(LossHead.class)
  void cnnGradientMatchesFiniteDifferences(LossHead head) {
    GradCheck.Result r =
        GradCheck.check(Models.cnn(1), head, new long[] {2, 3, 8, 8}, 11, 1e-3, 5e-3);
    System.out.printf("cnn %s rel=%.2e |g|=%.3e%n", head, r.relErr(), r.gradNorm());
  }

  @ParameterizedTest
  @EnumSource(LossHead.class)
  void normModelGradientMatchesFiniteDifferences(LossHead head) {
    GradCheck.Result r =
        GradCheck.check(Models.norm(2, false), head, new long[] {2, 2, 6, 6}, 12, 1e-3, 5e-3);
    System.out.printf("norm %s rel=%.2e |g|=%.3e%n", head, r.relErr(), r.gradNorm());
  }

  @ParameterizedTest
  @EnumSource(
      value = LossHead.class,
      names = {"CE", "MARGIN"})
  void finalSoftmaxIsSkippedAndReported(LossHead head) {
    GradientGraph gg = new GradientGraphBuilder().build(Models.norm(3, true), head);
    assertEquals(1, gg.notes().size(), gg.notes().toString());
    assertTrue(
        gg.notes().get(0).code() == GradientGraph.NoteCode.FINAL_SOFTMAX, gg.notes().toString());
    GradCheck.check(Models.norm(3, true), head, new long[] {2, 2, 6, 6}, 13, 1e-3, 5e-3);
  }

  @org.junit.jupiter.api.Test
  void opset13ForwardModelIsAcceptedAndFixedBatchIsReported() {
    var m = Models.cnn(4);
    var in = m.getGraph().getInput(0);
    var fixed = in.toBuilder();
    fixed
        .getTypeBuilder()
        .getTensorTypeBuilder()
        .getShapeBuilder()
        .getDimBuilder(0)
        .clearDimParam()
        .setDimValue(2);
    var old =
        m.toBuilder()
            .setOpsetImport(0, m.getOpsetImport(0).toBuilder().setVersion(13))
            .setGraph(m.getGraph().toBuilder().setInput(0, fixed))
            .build();
    GradientGraph gg = new GradientGraphBuilder().build(old, LossHead.CE);
    assertEquals(17, gg.model().getOpsetImport(0).getVersion());
    assertEquals(8, gg.model().getIrVersion());
    assertTrue(gg.notes().get(0).message().contains("fixed batch size 2"), gg.notes().toString());
    assertEquals(5, gg.numClasses());
    assertEquals(-1, gg.inputShape()[0]);
    // finite differences need a variable batch in the forward model: opset 13, symbolic batch
    var old13 =
        m.toBuilder().setOpsetImport(0, m.getOpsetImport(0).toBuilder().setVersion(13)).build();
    GradCheck.check(old13, LossHead.MARGIN, new long[] {2, 3, 8, 8}, 31, 1e-3, 5e-3);
  }
}
