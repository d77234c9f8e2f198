package dev.arat.cli;

import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportFiles;
import dev.arat.evaluator.run.Merge;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code arat merge}: combines the ledgers of {@code arat evaluate --shard k/n} runs into the
 * report of a single run and applies the suite's gates; exit codes as {@code evaluate}.
 */
@Command(
    name = "merge",
    mixinStandardHelpOptions = true,
    usageHelpAutoWidth = true,
    description = {
      "Merge the shards of a sharded evaluation and gate the result.",
      "",
      "Reads ledger.jsonl from the output folder of every shard ('arat evaluate --shard k/n --out DIR'), "
          + "replays the cascade from the recorded per-sample outcomes (no model or data needed) and writes "
          + "report.json, report.md, junit.xml and plots: the same report a single run gives (durations "
          + "aside). Exits by the suite's gates: 0 passed, 1 failed, 3 untrusted."
    })
final class MergeCommand implements Callable<Integer> {
  @Parameters(
      arity = "1..*",
      paramLabel = "SHARD_DIR",
      description = "Output folders of all shards (each holds ledger.jsonl), in any order.")
  List<Path> shards;

  @Option(
      names = "--out",
      required = true,
      paramLabel = "DIR",
      description = "Folder for the merged reports.")
  Path out;

  @Option(
      names = "--baseline",
      paramLabel = "FILE",
      description =
          "A baseline report.json for the max_robust_drop gate and the list of newly broken samples.")
  Path baseline;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    Report report = Merge.mergeAndWrite(shards, baseline, out);
    PrintWriter w = new Output(spec).out();
    EvaluateCommand.printSummary(report, w);
    w.printf(
        "merged %d shard(s); reports: %s%n", shards.size(), out.resolve(ReportFiles.JSON_FILE));
    if (!report.trusted()) {
      w.println("UNTRUSTED: the measurement cannot be trusted (see diagnostics)");
      return ExitCodes.UNTRUSTED;
    }
    w.println(ReportFiles.verdictLine(report));
    return report.passed() ? ExitCodes.OK : ExitCodes.GATE_FAILED;
  }
}
