package dev.arat.evaluator.report;

import dev.arat.attack.Attack;
import dev.arat.attack.Cascade;
import dev.arat.attack.CascadeResult;
import java.io.PrintStream;
import java.util.Locale;

/**
 * Prints cascade progress. On a terminal one line per attack is rewritten in place with samples
 * done, samples per second and the estimated time left; elsewhere (CI logs) only one line per
 * attack is printed when it finishes. A null stream prints nothing.
 */
public final class Progress implements Cascade.Listener {
  private final PrintStream out;
  private final boolean interactive;
  private final int total;
  private final String prefix;
  private long started;
  private String current = "";

  /**
   * Creates a printer.
   *
   * @param out where to print, or null for silence
   * @param interactive whether to rewrite a line in place (use {@code System.console() != null})
   * @param total number of samples of the evaluation
   */
  public Progress(PrintStream out, boolean interactive, int total) {
    this(out, interactive, total, null);
  }

  /**
   * Creates a printer whose lines start with {@code label} (e.g. the radius of a sweep).
   *
   * @param out where to print, or null for silence
   * @param interactive whether to rewrite a line in place
   * @param total number of samples of the evaluation
   * @param label a prefix such as {@code Linf eps=0.2}, or null
   */
  public Progress(PrintStream out, boolean interactive, int total, String label) {
    this.out = out;
    this.interactive = interactive;
    this.total = total;
    this.prefix = label == null ? "" : label + " ";
  }

  @Override
  public void cleanDone(int correct, int n) {
    if (out != null) {
      out.printf(
          Locale.ROOT,
          prefix + "clean: %d/%d correct (%.2f%%)%n",
          correct,
          n,
          100.0 * correct / Math.max(1, n));
      out.flush();
    }
  }

  @Override
  public void attackStarted(int index, Attack attack, int todo) {
    started = System.nanoTime();
    current = prefix + "[" + (index + 1) + "] " + attack.name();
    if (out != null && interactive) {
      out.printf(Locale.ROOT, "\r%s: 0/%d", current, todo);
      out.flush();
    }
  }

  @Override
  public void progress(int index, int done, int todo) {
    if (out == null || !interactive) {
      return;
    }
    double sec = (System.nanoTime() - started) / 1e9;
    double rate = done / Math.max(sec, 1e-9);
    double eta = (todo - done) / Math.max(rate, 1e-9);
    out.printf(
        Locale.ROOT,
        "\r%s: %d/%d  %.1f samples/s  ETA %s   ",
        current,
        done,
        todo,
        rate,
        duration(eta));
    out.flush();
  }

  @Override
  public void attackFinished(int index, CascadeResult.AttackStats s) {
    if (out == null) {
      return;
    }
    String name = prefix + "[" + (index + 1) + "] " + s.name();
    if (interactive && !s.skipped()) {
      out.print("\r");
    }
    if (s.skipped()) {
      out.printf(
          Locale.ROOT,
          "%s: skipped, %s%n",
          name,
          s.robustAfter() == 0 ? "no robust sample left" : "not run");
    } else {
      out.printf(
          Locale.ROOT,
          "%s: broke %d of %d, robust %d/%d (%.2f%%)%s in %s%n",
          name,
          s.successes(),
          s.attempted(),
          s.robustAfter(),
          total,
          100.0 * s.robustAfter() / Math.max(1, total),
          s.violations() > 0 ? ", " + s.violations() + " BUDGET VIOLATIONS" : "",
          duration(s.seconds()));
    }
    out.flush();
  }

  public static String duration(double seconds) {
    if (!(seconds < 1e7)) {
      return "?";
    }
    long s = Math.round(seconds);
    if (s < 60) {
      return String.format(Locale.ROOT, "%.1fs", seconds);
    }
    return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
  }
}
