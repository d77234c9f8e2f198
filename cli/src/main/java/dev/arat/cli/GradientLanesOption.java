package dev.arat.cli;

import picocli.CommandLine.Option;

/** {@code --gradient-lanes}, shared by the commands that run attacks through ONNX Runtime. */
final class GradientLanesOption {
  @Option(
      names = "--gradient-lanes",
      defaultValue = "0",
      paramLabel = "N",
      description =
          "Gradient sessions per loss head that compute the parts of a gradient call at once, "
              + "each with threads/N ONNX Runtime threads: 1, 2 or 4 (0 = automatic: 4 with 4 or "
              + "more threads, 2 with 2 or 3). Results do not depend on it.")
  int lanes;
}
