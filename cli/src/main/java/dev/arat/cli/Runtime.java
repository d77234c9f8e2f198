package dev.arat.cli;

/**
 * Process-wide settings applied before any engine starts: DJL runs offline with the PyTorch engine
 * (no telemetry, no native download; the natives come from the bundled jar).
 */
final class Runtime {
  private Runtime() {}

  static void configure() {
    setIfAbsent("ai.djl.offline", "true");
    setIfAbsent("ai.djl.default_engine", "PyTorch");
    setIfAbsent("OPT_OUT_TRACKING", "true");
    setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", "warn");
    setIfAbsent("org.slf4j.simpleLogger.log.ai.djl.pytorch.jni.LibUtils", "warn");
    // DJL probes CUDA on every start and warns when a CUDA runtime has no driver (CPU machines).
    setIfAbsent("org.slf4j.simpleLogger.log.ai.djl.util.cuda.CudaUtils", "error");
  }

  private static void setIfAbsent(String key, String value) {
    if (System.getProperty(key) == null) {
      System.setProperty(key, value);
    }
  }
}
