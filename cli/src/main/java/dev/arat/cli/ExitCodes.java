package dev.arat.cli;

/** The documented exit codes of {@code arat} (DESIGN.md decision 10). */
public final class ExitCodes {
  private ExitCodes() {}

  /** Success; for {@code evaluate}, every gate passed. */
  public static final int OK = 0;

  /** A gate failed: the model is not robust enough by the suite's standard. */
  public static final int GATE_FAILED = 1;

  /** Usage, spec or input error: bad flags, bad YAML, missing or corrupt files, unsupported ops. */
  public static final int INPUT_ERROR = 2;

  /**
   * The measurement cannot be trusted: parity failed, a budget was violated, a fatal diagnostic.
   */
  public static final int UNTRUSTED = 3;

  /** An internal error: a bug in arat (run with --stacktrace and report it). */
  public static final int INTERNAL = 4;

  /** Interrupted by the user (SIGINT); work done so far was saved. */
  public static final int INTERRUPTED = 130;
}
