package dev.arat.cli;

import dev.arat.specs.AratVersion;
import picocli.CommandLine.IVersionProvider;

/** Versions of arat and of the engines it runs on, for {@code --version} and provenance. */
public final class Versions implements IVersionProvider {
  /** arat's own version (the Maven project version, see {@link AratVersion}). */
  public static final String ARAT = AratVersion.VERSION;

  @Override
  public String[] getVersion() {
    return new String[] {
      "arat " + ARAT,
      "DJL 0.36.0 (PyTorch 2.7.1, CPU), ONNX Runtime 1.23.2",
      "Java " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")"
    };
  }
}
