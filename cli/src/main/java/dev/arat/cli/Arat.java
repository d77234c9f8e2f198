package dev.arat.cli;

import dev.arat.evaluator.EvaluationException;
import dev.arat.exporter.ExportException;
import dev.arat.onnx.OnnxModelException;
import dev.arat.specs.SpecException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * The {@code arat} command: train ARAT-robust classifiers, export them as ONNX and certify their
 * robustness on the ONNX file, with documented exit codes for CI.
 */
@Command(
    name = "arat",
    mixinStandardHelpOptions = true,
    usageHelpAutoWidth = true,
    versionProvider = Versions.class,
    description = {
      "Train adversarially robust image classifiers with ARAT, export them as plain ONNX, and "
          + "certify their robustness on the ONNX file with white-box attacks, as a CI gate."
    },
    subcommands = {
      DemoCommand.class,
      TrainCommand.class,
      ExportCommand.class,
      QuantizeCommand.class,
      EvaluateCommand.class,
      InspectCommand.class,
      GradientCommand.class,
      MergeCommand.class,
      ReplayCommand.class,
      BenchCommand.class,
      PackageCommand.class,
      VerifyCommand.class,
      CommandLine.HelpCommand.class
    },
    exitCodeListHeading = "%nExit codes:%n",
    exitCodeList = {
      "0:ok (evaluate: every gate passed)",
      "1:a gate failed",
      "2:usage, spec or input error (bad YAML, missing/corrupt file, model input not an image batch)",
      "3:measurement cannot be trusted (parity failed, budget violated, fatal diagnostic; also evaluate and "
          + "inspect when white-box attacks are impossible, ARAT-D017)",
      "4:internal error (rerun with --stacktrace and report it)",
      "130:interrupted; progress so far is saved",
    })
public final class Arat {
  @Option(
      names = {"-x", "--stacktrace"},
      scope = ScopeType.INHERIT,
      description = "Print the full stack trace of an error.")
  boolean stacktrace;

  @Option(
      names = {"-q", "--quiet"},
      scope = ScopeType.INHERIT,
      description = "Print only results and errors, no progress.")
  boolean quiet;

  /** Runs the command line and exits with its code. */
  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the command line and returns its exit code (no {@code System.exit}; for tests). */
  public static int run(String... args) {
    return commandLine().execute(args);
  }

  /** The configured picocli command line: error handling, exit-code mapping. */
  public static CommandLine commandLine() {
    Runtime.configure();
    CommandLine cl = new CommandLine(new Arat());
    cl.setExecutionExceptionHandler(Arat::handle);
    cl.setParameterExceptionHandler(
        (ex, args) -> {
          PrintWriter err = ex.getCommandLine().getErr();
          String message = ex.getMessage();
          if (ex instanceof CommandLine.UnmatchedArgumentException u
              && !u.getUnmatched().isEmpty()) {
            String first = u.getUnmatched().get(0);
            if (!first.startsWith("-") && !ex.getCommandLine().getSubcommands().isEmpty()) {
              message = "unknown command '" + first + "'";
            }
          }
          err.println("arat: " + message);
          if (ex instanceof CommandLine.UnmatchedArgumentException u) {
            CommandLine.UnmatchedArgumentException.printSuggestions(u, err);
          }
          err.println(
              "Try '"
                  + ex.getCommandLine().getCommandSpec().qualifiedName()
                  + " --help' for usage.");
          err.flush();
          return ExitCodes.INPUT_ERROR;
        });
    cl.setExecutionStrategy(Arat::refuseUnmatchedThenRun);
    return cl;
  }

  /**
   * Runs the parsed command, but first refuses arguments nothing matched at any level: picocli
   * accepts them when {@code --help} is also given ({@code arat quantise --help} printed the
   * top-level usage and exited 0); an unknown command is a usage error (exit 2) with suggestions.
   */
  private static int refuseUnmatchedThenRun(CommandLine.ParseResult parsed) {
    for (CommandLine.ParseResult p = parsed; p != null; p = p.subcommand()) {
      if (!p.unmatched().isEmpty()) {
        // picocli hands it to the parameter exception handler above
        throw new CommandLine.UnmatchedArgumentException(
            p.commandSpec().commandLine(), p.unmatched());
      }
    }
    return new CommandLine.RunLast().execute(parsed);
  }

  private static int handle(Exception ex, CommandLine cmd, CommandLine.ParseResult parsed) {
    Arat root = cmd.getCommandSpec().root().userObject() instanceof Arat a ? a : null;
    boolean trace = root != null && root.stacktrace;
    int code = exitCodeOf(ex);
    PrintWriter err = cmd.getErr();
    String message = messageOf(ex);
    err.println("arat: " + (code == ExitCodes.INTERNAL ? "internal error: " : "") + message);
    if (trace) {
      StringWriter sw = new StringWriter();
      ex.printStackTrace(new PrintWriter(sw));
      err.println(sw);
    } else if (code == ExitCodes.INTERNAL) {
      err.println("This is a bug in arat. Rerun with --stacktrace and report the output.");
    }
    err.flush();
    return code;
  }

  /** Maps an exception to the documented exit code. */
  static int exitCodeOf(Throwable ex) {
    if (ex instanceof AratException a) {
      return a.exitCode();
    }
    if (ex instanceof EvaluationException e) {
      return switch (e.kind()) {
        case INPUT -> ExitCodes.INPUT_ERROR;
        case UNTRUSTED -> ExitCodes.UNTRUSTED;
        case INTERNAL -> ExitCodes.INTERNAL;
      };
    }
    if (ex instanceof SpecException
        || ex instanceof OnnxModelException
        || ex instanceof ExportException
        || ex instanceof IllegalArgumentException
        || ex instanceof NoSuchFileException) {
      return ExitCodes.INPUT_ERROR;
    }
    if (ex instanceof UncheckedIOException u && u.getCause() instanceof NoSuchFileException) {
      return ExitCodes.INPUT_ERROR;
    }
    if (ex instanceof InterruptedException) {
      return ExitCodes.INTERRUPTED;
    }
    return ExitCodes.INTERNAL;
  }

  private static String messageOf(Throwable ex) {
    String m = ex.getMessage();
    if (ex instanceof NoSuchFileException n) {
      return "file not found: " + n.getFile();
    }
    if (ex instanceof UncheckedIOException u && u.getCause() instanceof NoSuchFileException n) {
      return "file not found: " + n.getFile();
    }
    return m == null || m.isBlank() ? ex.getClass().getSimpleName() : m;
  }
}
