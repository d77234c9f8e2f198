package dev.arat.evaluator.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import dev.arat.evaluator.EvaluationException;
import dev.arat.evaluator.Fixtures;
import dev.arat.evaluator.ort.RuntimeOptions;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportFiles;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.Specs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A parent and variants evaluated side by side on the same samples. */
class VariantComparisonTest {
  static final EvaluationSuite SUITE =
      Specs.parse(
          String.join(
              "\n",
              "name: variants",
              "data: {dataset: synthetic}",
              "samples: 60",
              "seed: 3",
              "batch_size: 32",
              "threat_model: {norm: Linf, epsilon: 0.1}",
              "attacks: [{type: fgsm}, {type: pgd, steps: 5}]",
              "gates: {min_robust_accuracy: 0.0, max_robust_drop_vs_parent: 0.0, min_top1_agreement: 1.0}",
              ""),
          EvaluationSuite.class,
          "v.yaml");

  /** Logits favouring class 0 by a wide margin, whatever the input. */
  static ModelProto constantClassZero() {
    GraphBuilder g = new GraphBuilder("constant");
    String x = g.imageInput("input", 1, 28, 28);
    float[] b = new float[10];
    b[0] = 100;
    String flat = g.node(Op.FLATTEN, List.of(x), Map.of("axis", 1L));
    String z =
        g.node(
            Op.GEMM,
            List.of(
                flat,
                g.floatInitializer("w", new float[10 * 784], 10, 784),
                g.floatInitializer("b", b, 10)),
            Map.of("transB", 1L));
    g.output(z, "logits", Tensors.FLOAT, "N", 10);
    return g.build(17);
  }

  @Test
  void comparesVariantsOnTheSameSamplesWithTransferAndGates(@TempDir Path dir) throws Exception {
    Path parent = dir.resolve("model.onnx");
    OnnxModels.save(Fixtures.onnx(Fixtures.syntheticNearestMean(), false, false), parent);
    Path copy = dir.resolve("model.copy.onnx");
    Files.copy(parent, copy);
    Path constant = dir.resolve("model.const.onnx");
    OnnxModels.save(constantClassZero(), constant);
    Path out = dir.resolve("eval");

    VariantComparison.Outcome o =
        VariantComparison.run(
            SuiteRunner.builder().optThreads(1),
            RuntimeOptions.cpu(1),
            parent,
            List.of(copy, constant),
            SUITE,
            null,
            out);
    VariantComparison.Result c = o.comparison();
    Report p = o.parent();
    assertTrue(
        p.robustCount() > 0 && p.robustCount() < p.cleanCorrect(),
        "some samples broken, some robust");

    // an identical copy: same outcomes, and every adversarial example of the parent fools it
    VariantComparison.Entry same = c.variants().get(0);
    assertEquals(0.0, same.robustDropVsParent());
    assertEquals(1.0, same.top1Agreement());
    int broken = (int) p.perSample().stream().filter(e -> e.brokenBy() != null).count();
    assertEquals(broken, same.transfer().parentAdversarial());
    assertEquals(broken, same.transfer().scored());
    assertEquals(broken, same.transfer().fooled());
    assertTrue(same.newlyBroken().isEmpty() && same.newlyRobust().isEmpty());

    // a model that always says class 0: fooled exactly by the adversarials of other classes
    VariantComparison.Entry zero = c.variants().get(1);
    int notZero =
        (int) p.perSample().stream().filter(e -> e.brokenBy() != null && e.label() != 0).count();
    assertEquals(notZero, zero.transfer().fooled());
    long labelZero = p.perSample().stream().filter(e -> e.label() == 0).count();
    long parentSaysZero = p.perSample().stream().filter(e -> e.cleanPred() == 0).count();
    assertEquals((double) parentSaysZero / p.samples(), zero.top1Agreement(), 1e-12);
    assertEquals(
        p.robustAccuracy() - o.variants().get(1).robustAccuracy(),
        zero.robustDropVsParent(),
        1e-12);
    assertTrue(o.variants().get(1).robustCount() <= labelZero);

    // gates: one per variant and gate; the copy passes, the constant model fails both
    assertEquals(
        List.of(
            "max_robust_drop_vs_parent[model.copy.onnx]",
            "min_top1_agreement[model.copy.onnx]",
            "max_robust_drop_vs_parent[model.const.onnx]",
            "min_top1_agreement[model.const.onnx]"),
        c.gates().stream().map(Report.Gate::name).toList());
    assertTrue(c.gates().get(0).passed() && c.gates().get(1).passed());
    assertFalse(c.gates().get(3).passed());
    assertFalse(c.passed());
    assertNull(c.parent().transfer());

    List<Path> files = VariantComparison.writeAll(o, out);
    assertEquals(out.resolve(ReportFiles.JSON_FILE), files.get(0));
    assertTrue(Files.exists(out.resolve(VariantComparison.PLOT_FILE)));
    assertTrue(Files.exists(out.resolve("variants/model.const/report.json")));
    String md = Files.readString(out.resolve(ReportFiles.MARKDOWN_FILE));
    assertTrue(
        md.contains("### Variants") && md.contains("`model.const.onnx`") && md.contains("(parent)"),
        md);
    VariantComparison.Result back =
        VariantComparison.readJson(Files.readString(out.resolve(VariantComparison.JSON_FILE)));
    assertEquals(c, back);
  }

  @Test
  void variantsWithTheSameFileNameAreRefused(@TempDir Path dir) throws Exception {
    Path parent = dir.resolve("model.onnx");
    OnnxModels.save(Fixtures.onnx(Fixtures.syntheticNearestMean(), false, false), parent);
    Files.createDirectories(dir.resolve("b"));
    Path other = dir.resolve("b").resolve("model.onnx");
    Files.copy(parent, other);
    EvaluationException e =
        assertThrows(
            EvaluationException.class,
            () ->
                VariantComparison.run(
                    SuiteRunner.builder().optThreads(1),
                    RuntimeOptions.cpu(1),
                    parent,
                    List.of(other),
                    SUITE,
                    null,
                    dir));
    assertEquals(EvaluationException.Kind.INPUT, e.kind());
    assertTrue(e.getMessage().contains("two models are named 'model.onnx'"), e.getMessage());
  }

  /**
   * The parent's adversarial examples are re-scored on a test set of the user's own (.npy pair).
   */
  @Test
  void variantsOfAModelEvaluatedOnAnNpyTestSet(@TempDir Path dir) throws Exception {
    Path x = dir.resolve("x.npy");
    Path y = dir.resolve("y.npy");
    ByoDataEvaluationTest.writeNpy(ByoDataEvaluationTest.quantised(), x, y);
    Path parent = ByoDataEvaluationTest.model(dir);
    Path copy = dir.resolve("model.copy.onnx");
    Files.copy(parent, copy);
    EvaluationSuite suite =
        ByoDataEvaluationTest.suite("{format: npy, x: '" + x + "', y: '" + y + "'}");

    VariantComparison.Outcome o =
        VariantComparison.run(
            SuiteRunner.builder().optThreads(1).optGallery(false),
            RuntimeOptions.cpu(1),
            parent,
            List.of(copy),
            suite,
            null,
            dir.resolve("eval"));
    int broken = (int) o.parent().perSample().stream().filter(e -> e.brokenBy() != null).count();
    assertTrue(broken > 0, "eps 0.1 should break some samples");
    VariantComparison.Entry same = o.comparison().variants().get(0);
    assertEquals(broken, same.transfer().scored());
    assertEquals(broken, same.transfer().fooled());
  }

  /**
   * The variant of a model that takes normalised pixels is scored with the suite's normalisation.
   */
  @Test
  void transferToAVariantAppliesTheSuitesNormalization(@TempDir Path dir) throws Exception {
    Path parent = dir.resolve("model.onnx");
    OnnxModels.save(Fixtures.onnx(Fixtures.syntheticNearestMean(), false, false), parent);
    Path copy = dir.resolve("model.copy.onnx");
    Files.copy(parent, copy);
    EvaluationSuite suite =
        Specs.parse(
            String.join(
                "\n",
                "name: variants",
                "data: {dataset: synthetic}",
                "samples: 60",
                "seed: 3",
                "batch_size: 32",
                "threat_model: {norm: Linf, epsilon: 0.1}",
                "attacks: [{type: fgsm}, {type: pgd, steps: 5}]",
                "normalization: {mean: [0.25], std: [0.5]}",
                ""),
            EvaluationSuite.class,
            "v.yaml");

    VariantComparison.Outcome o =
        VariantComparison.run(
            SuiteRunner.builder().optThreads(1).optGallery(false),
            RuntimeOptions.cpu(1),
            parent,
            List.of(copy),
            suite,
            null,
            dir.resolve("eval"));
    int broken = (int) o.parent().perSample().stream().filter(e -> e.brokenBy() != null).count();
    assertTrue(broken > 0, "some samples broken");
    VariantComparison.Entry same = o.comparison().variants().get(0);
    assertEquals(1.0, same.top1Agreement());
    assertEquals(broken, same.transfer().scored());
    assertEquals(
        broken,
        same.transfer().fooled(),
        "an identical copy is fooled by every adversarial example");
  }
}
