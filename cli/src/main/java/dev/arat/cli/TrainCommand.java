package dev.arat.cli;

import dev.arat.specs.Builtins;
import dev.arat.specs.TrainingRecipe;
import dev.arat.trainer.Trainer;
import dev.arat.trainer.TrainingResult;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code arat train}: trains a network per a recipe, with checkpoints and resume. */
@Command(
    name = "train",
    mixinStandardHelpOptions = true,
    usageHelpAutoWidth = true,
    description = {
      "Train a network per a recipe (ARAT, TRADES, PGD-AT or standard).",
      "",
      "Writes recipe.yaml, metrics.jsonl and a checkpoint per epoch into --out. Ctrl-C finishes "
          + "the current step, writes a checkpoint and exits 130; --resume continues."
    })
final class TrainCommand implements Callable<Integer> {
  @Option(
      names = "--recipe",
      defaultValue = "demo",
      paramLabel = "FILE|NAME",
      description = "Recipe YAML file or built-in recipe name (${DEFAULT-VALUE}).")
  String recipe;

  @Option(
      names = "--out",
      defaultValue = "runs/train",
      paramLabel = "DIR",
      description = "Run folder (default: ${DEFAULT-VALUE}).")
  Path out;

  @Option(names = "--resume", description = "Continue from the newest checkpoint in --out.")
  boolean resume;

  @Mixin RecipeOverrides overrides;

  @Spec CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Output output = new Output(spec);
    TrainingRecipe r = overrides.apply(Builtins.recipe(recipe));
    TrainingResult result = train(r, out, resume, overrides.data, output);
    output
        .out()
        .printf(
            "trained %d epoch(s), %d steps; last checkpoint: %s%n",
            result.epochsCompleted(), result.globalStep(), result.lastCheckpoint());
    return result.interrupted() ? ExitCodes.INTERRUPTED : ExitCodes.OK;
  }

  /** Trains with graceful interruption: Ctrl-C finishes the step and writes a checkpoint. */
  static TrainingResult train(TrainingRecipe r, Path out, boolean resume, Path data, Output output)
      throws Exception {
    Trainer trainer = new Trainer();
    PrintStream progress = output.progress();
    try (GracefulStop stop = new GracefulStop(trainer::requestStop, 120)) {
      try {
        return trainer.train(r, out, resume, data, progress);
      } catch (IllegalStateException e) {
        // resume without a checkpoint, or a fresh run into a used folder: the user's input
        throw new AratException(ExitCodes.INPUT_ERROR, e.getMessage());
      }
    }
  }

  /** The recipe overrides shared by {@code train} and {@code demo}. */
  static final class RecipeOverrides {
    @Option(
        names = "--data",
        paramLabel = "DIR",
        description = "Dataset folder (overrides data.path).")
    Path data;

    @Option(names = "--epochs", description = "Override epochs.")
    Integer epochs;

    @Option(names = "--seed", description = "Override seed.")
    Long seed;

    @Option(names = "--method", description = "Override method: standard, pgd-at, trades, arat.")
    String method;

    @Option(
        names = "--device",
        paramLabel = "auto|cpu|gpu[:N]|LIST",
        description =
            "Override device: auto, cpu, gpu, gpu:N, or several for data-parallel "
                + "training (gpu:0,1 or gpu:all; cpu,cpu tests that path on a CPU); a GPU that "
                + "cannot be used is an error, never a silent CPU run.")
    String device;

    @Option(names = "--train-samples", description = "Override data.train_samples (0 = all).")
    Integer trainSamples;

    @Option(names = "--lr", description = "Override optimizer.lr.")
    Double lr;

    @Option(
        names = "--set",
        paramLabel = "KEY=VALUE",
        description = "Override any recipe field, e.g. --set arat.gamma=10 (repeatable).")
    List<String> set = new ArrayList<>();

    TrainingRecipe apply(TrainingRecipe r) {
      List<String> all = new ArrayList<>(set);
      Map<String, Object> named = new LinkedHashMap<>();
      named.put("epochs", epochs);
      named.put("seed", seed);
      named.put("method", method);
      named.put("data.train_samples", trainSamples);
      named.put("optimizer.lr", lr);
      named.put("device", device);
      Overrides.named(all, named);
      return Overrides.apply(r, TrainingRecipe.class, all);
    }
  }
}
