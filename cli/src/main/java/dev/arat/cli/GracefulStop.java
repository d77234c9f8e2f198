package dev.arat.cli;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Turns Ctrl-C (SIGINT/SIGTERM) into a request to stop after the current unit of work, and holds
 * the JVM's exit until that work is saved (at most {@code graceSeconds}).
 */
final class GracefulStop implements AutoCloseable {
  private final CountDownLatch finished = new CountDownLatch(1);
  private final Thread hook;

  /** Registers {@code onSignal} to run when the process is asked to stop. */
  GracefulStop(Runnable onSignal, int graceSeconds) {
    hook =
        new Thread(
            () -> {
              onSignal.run();
              try {
                finished.await(graceSeconds, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
              }
            },
            "arat-graceful-stop");
    java.lang.Runtime.getRuntime().addShutdownHook(hook);
  }

  /** Marks the work as saved and unregisters the hook. */
  @Override
  public void close() {
    finished.countDown();
    try {
      java.lang.Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // the JVM is already shutting down: the hook is running and will see the latch
    }
  }
}
