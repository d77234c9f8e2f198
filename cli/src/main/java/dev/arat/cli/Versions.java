package dev.arat.cli;

import picocli.CommandLine.IVersionProvider;

/** Versions of arat and of the engines it runs on, for {@code --version} and provenance. */
public final class Versions implements IVersionProvider {
  /** arat's own version. */
  public static final String ARAT = "0.1.0";

  @Override
  public String[] getVersion() {
    return new String[] {
      "arat " + ARAT,
      "DJL 0.36.0 (PyTorch 2.7.1, CPU), ONNX Runtime 1.23.2",
      "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")"
    };
  }
}
