package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code arat evaluate} runs FGSM and PGD end to end against torchvision's ResNet-18 as PyTorch
 * exports it (random weights, grey 28x28 input replicated to 3 channels). Skipped unless {@code
 * /usr/bin/python3 onnx/fixtures/resnet18.py} has written {@code resnet18.onnx} to {@code
 * $ARAT_RESNET18_DIR} or {@code /tmp/arat-resnet18}.
 */
class ResNet18EvaluateTest {
  @TempDir Path dir;

  static final String SUITE =
      String.join(
          "\n",
          "name: resnet18-e2e",
          "data: {dataset: synthetic}",
          "samples: 16",
          "seed: 3",
          "batch_size: 16",
          "threat_model: {norm: Linf, epsilon: 0.03}",
          "attacks:",
          "  - type: fgsm",
          "  - {type: pgd, steps: 3, step_size: 0.01}",
          "gates: {min_clean_accuracy: 0.0}",
          "");

  @Test
  void evaluateRunsPgdAgainstTorchvisionResNet18() throws Exception {
    String d = System.getenv("ARAT_RESNET18_DIR");
    Path model = Path.of(d != null ? d : "/tmp/arat-resnet18", "resnet18.onnx");
    Assumptions.assumeTrue(Files.isRegularFile(model), "run onnx/fixtures/resnet18.py first");
    Path suite = dir.resolve("suite.yaml");
    Files.writeString(suite, SUITE);
    CliRun r =
        CliRun.arat(
            "-q",
            "evaluate",
            "--model",
            model.toString(),
            "--suite",
            suite.toString(),
            "--out",
            dir.resolve("eval").toString(),
            "--threads",
            "2");
    assertTrue(r.code() == 0 || r.code() == 1, "exit " + r.code() + "\n" + r.out() + r.err());
    assertTrue(Files.isRegularFile(dir.resolve("eval/report.json")), r.out());
    assertTrue(r.out().contains("after pgd"), r.out());
    System.out.println(r.out());
  }
}
