package dev.arat.cli;

import dev.arat.evaluator.run.SuiteRunner;
import dev.arat.exporter.BnBranch;
import dev.arat.exporter.ParityCheck;
import dev.arat.specs.AtomicFiles;
import dev.arat.specs.Builtins;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.TrainingRecipe;
import dev.arat.trainer.TrainingResult;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code arat demo}: the whole pipeline on Fashion-MNIST with the built-in {@code demo} recipe and
 * suite: train ARAT, export ONNX with parity, attack the ONNX file, gate.
 */
@Command(
    name = "demo",
    mixinStandardHelpOptions = true,
    usageHelpAutoWidth = true,
    description = {
      "Run the whole pipeline on Fashion-MNIST: train, export, attack, gate.",
      "",
      "Trains ARAT with the built-in 'demo' recipe (a few minutes on 2 CPU cores), exports ONNX with "
          + "a parity check, attacks the ONNX file with the built-in 'demo' suite (FGSM, PGD-20, "
          + "Linf eps=0.1, 1000 test images) and applies its gates. Every artifact is left in --out; "
          + "rerunning resumes."
    })
final class DemoCommand implements Callable<Integer> {
  @Option(
      names = "--out",
      defaultValue = "runs/demo",
      paramLabel = "DIR",
      description = "Folder for every artifact (default: ${DEFAULT-VALUE}).")
  Path out;

  @Option(
      names = "--data",
      paramLabel = "DIR",
      description = "Fashion-MNIST folder (default: /usr/share/datasets/fashion-mnist).")
  Path data;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Output output = new Output(spec);
    PrintWriter w = output.out();
    long start = System.nanoTime();
    TrainingRecipe recipe = Builtins.recipe("demo");
    boolean resume = Checkpoint.latest(out).isPresent();
    w.printf(
        "[1/3] train: ARAT, %s, %s, %d epoch(s)%s -> %s%n",
        recipe.architecture(),
        recipe.data().dataset(),
        recipe.epochs(),
        resume ? " (resuming)" : "",
        out);
    w.flush();
    TrainingResult trained = TrainCommand.train(recipe, out, resume, data, output);
    if (trained.interrupted()) {
      w.println("interrupted; rerun 'arat demo' to resume");
      return ExitCodes.INTERRUPTED;
    }
    Path model = out.resolve("model.onnx");
    w.printf("[2/3] export: %s%n", model);
    w.flush();
    ParityCheck.Result parity =
        ExportCommand.export(out, model, BnBranch.ADV, 512, ParityCheck.DEFAULT_TOLERANCE, data, w);
    EvaluationSuite suite = Builtins.suite("demo");
    AtomicFiles.writeString(out.resolve("suite.yaml"), Builtins.suiteText("demo"));
    w.printf("[3/3] evaluate: suite %s on %s%n", "demo", model);
    w.flush();
    int code = EvaluateCommand.evaluate(model, suite, out, data, SuiteRunner.builder(), output);
    w.printf(
        "%ndemo finished in %.0f s; parity max |diff| %.2g; artifacts in %s%n",
        (System.nanoTime() - start) / 1e9, parity.maxAbsDiff(), out);
    return code;
  }
}
