package dev.arat.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/**
 * One run of the {@code arat} command line in this JVM, as the tests see it.
 *
 * @param code the exit code
 * @param out what the command printed on standard output
 * @param err what it printed on standard error
 */
record CliRun(int code, String out, String err) {

  /** Runs {@code arat args...} and captures its exit code and output. */
  static CliRun arat(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cl = Arat.commandLine();
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    int code = cl.execute(args);
    return new CliRun(code, out.toString(), err.toString());
  }

  /** Runs {@code arat -q args...}: without progress lines. */
  static CliRun quiet(String... args) {
    String[] all = new String[args.length + 1];
    all[0] = "-q";
    System.arraycopy(args, 0, all, 1, args.length);
    return arat(all);
  }
}
