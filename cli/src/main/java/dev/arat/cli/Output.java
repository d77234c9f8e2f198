package dev.arat.cli;

import java.io.PrintStream;
import java.io.PrintWriter;
import picocli.CommandLine.Model.CommandSpec;

/** Where a command prints: results through picocli's writer, progress to stderr unless quiet. */
final class Output {
  private final CommandSpec spec;

  Output(CommandSpec spec) {
    this.spec = spec;
  }

  PrintWriter out() {
    return spec.commandLine().getOut();
  }

  boolean quiet() {
    Object root = spec.root().userObject();
    return root instanceof Arat a && a.quiet;
  }

  /** The progress stream, or null when {@code --quiet}. */
  PrintStream progress() {
    return quiet() ? null : System.err;
  }
}
