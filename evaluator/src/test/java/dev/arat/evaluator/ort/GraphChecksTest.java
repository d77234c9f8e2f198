package dev.arat.evaluator.ort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.GraphProto;
import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.ValueInfoProto;
import dev.arat.evaluator.checks.Diagnostic;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The static graph scan's findings become diagnostics (moved from DiagnosticsTest with
 * GraphChecks).
 */
class GraphChecksTest {
  @Test
  void graphScanFindingsBecomeDiagnostics() {
    GraphProto body =
        GraphProto.newBuilder()
            .addNode(
                NodeProto.newBuilder()
                    .setOpType("Identity")
                    .addInput("x")
                    .addOutput("b")
                    .setName("inner"))
            .build();
    GraphProto g =
        GraphProto.newBuilder()
            .addInput(ValueInfoProto.newBuilder().setName("x"))
            .addNode(
                NodeProto.newBuilder()
                    .setOpType("RandomUniformLike")
                    .setName("noise")
                    .addInput("x")
                    .addOutput("n"))
            .addNode(
                NodeProto.newBuilder()
                    .setOpType("Add")
                    .setName("add")
                    .addInput("x")
                    .addInput("n")
                    .addOutput("s"))
            .addNode(
                NodeProto.newBuilder()
                    .setOpType("Round")
                    .setName("round")
                    .addInput("s")
                    .addOutput("r"))
            .addNode(
                NodeProto.newBuilder()
                    .setOpType("If")
                    .setName("branch")
                    .addInput("c")
                    .addOutput("d")
                    .addAttribute(
                        ai.onnx.proto.OnnxMl.AttributeProto.newBuilder()
                            .setName("then_branch")
                            .setG(body)))
            .addOutput(ValueInfoProto.newBuilder().setName("r"))
            .build();
    ModelProto m = ModelProto.newBuilder().setGraph(g).build();
    List<Diagnostic> d = GraphChecks.scan(m);
    assertEquals(List.of("ARAT-D009"), d.stream().map(Diagnostic::code).toList(), d.toString());
    assertTrue(d.get(0).message().contains("noise"), d.get(0).message());
    // control flow and rounding leave no gradient: white-box attacks are impossible (ARAT-D017)
    List<String> blockers = GraphChecks.whiteBoxBlockers(m);
    assertEquals(2, blockers.size(), blockers.toString());
    assertTrue(
        blockers.get(0).startsWith("[control-flow]") && blockers.get(0).contains("branch"),
        blockers.get(0));
    assertTrue(
        blockers.get(1).startsWith("[rounding]") && blockers.get(1).contains("round"),
        blockers.get(1));
  }
}
