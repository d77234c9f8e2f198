package dev.arat.specs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * An engine-neutral training checkpoint: a folder readable without libtorch.
 *
 * <pre>
 * epoch-0003/
 *   architecture.json      the {@link ArchitectureSpec}
 *   recipe.yaml            the {@link TrainingRecipe} as used
 *   weights.safetensors    every weight (both BN branches, predictors), names per ArchitectureSpec
 *   optimizer.safetensors  SGD momentum buffers, keyed by weight name
 *   state.json             the {@link TrainingState}
 * </pre>
 *
 * <p>{@link #write} builds the folder under a temporary name and renames it into place, so a crash
 * never leaves a half-written checkpoint under the final name.
 *
 * @param architecture the network
 * @param recipe the recipe that trained it
 * @param weights the weights
 * @param optimizer optimizer state (may be empty)
 * @param state progress counters and provenance
 */
public record Checkpoint(
    ArchitectureSpec architecture,
    TrainingRecipe recipe,
    Map<String, Tensor> weights,
    Map<String, Tensor> optimizer,
    TrainingState state) {

  /** File name of the weights inside a checkpoint folder. */
  public static final String WEIGHTS = "weights.safetensors";

  /** File name of the training state inside a checkpoint folder. */
  public static final String STATE = "state.json";

  /** Names of checkpoint folders: {@code epoch-NNNN} or {@code epoch-NNNN-step-SSSSSS}. */
  private static final Pattern FOLDER = Pattern.compile("epoch-(\\d{4,})(?:-step-(\\d{6,}))?");

  /** The files every checkpoint folder holds ({@code optimizer.safetensors} may be absent). */
  private static final List<String> REQUIRED =
      List.of("architecture.json", "recipe.yaml", WEIGHTS, STATE);

  /**
   * Writes the checkpoint to folder {@code dir} atomically: a temporary folder is filled, then
   * renamed into place.
   *
   * <p>A folder named for a training position ({@link #folderName}) must be named for this
   * checkpoint's position, and is never replaced by a checkpoint of a different position; only the
   * same position (an identical step written again) may replace it. Other folders (e.g. {@code
   * swa/}) are replaced.
   *
   * @throws IOException when the folder cannot be written, or it would replace a checkpoint of a
   *     different training position
   */
  public void write(Path dir) throws IOException {
    Path abs = dir.toAbsolutePath();
    boolean positional = FOLDER.matcher(abs.getFileName().toString()).matches();
    String own = folderName(state.epoch(), state.stepInEpoch());
    if (positional && !abs.getFileName().toString().equals(own)) {
      throw new IOException("refusing to write the checkpoint of " + own + " into folder " + abs);
    }
    if (positional && Files.exists(abs)) {
      TrainingState old;
      try {
        old = Specs.read(abs.resolve(STATE), TrainingState.class, abs.resolve(STATE).toString());
      } catch (SpecException e) {
        throw new IOException(
            "refusing to replace checkpoint "
                + abs
                + " (its state cannot be read: "
                + e.getMessage()
                + ")",
            e);
      }
      if (old.epoch() != state.epoch()
          || old.stepInEpoch() != state.stepInEpoch()
          || old.globalStep() != state.globalStep()) {
        throw new IOException(
            "refusing to replace checkpoint "
                + abs
                + " (epoch "
                + old.epoch()
                + ", global step "
                + old.globalStep()
                + ") with a different one (epoch "
                + state.epoch()
                + ", global step "
                + state.globalStep()
                + "); arat never overwrites a checkpoint");
      }
    }
    Files.createDirectories(abs.getParent());
    Path tmp = Files.createDirectory(AtomicFiles.siblingName(abs, ".tmp"));
    try {
      Files.writeString(tmp.resolve("architecture.json"), Specs.toJson(architecture));
      Files.writeString(tmp.resolve("recipe.yaml"), Specs.toYaml(recipe));
      Files.write(tmp.resolve(WEIGHTS), SafeTensors.encode(weights, state.provenance()));
      Files.write(tmp.resolve("optimizer.safetensors"), SafeTensors.encode(optimizer, Map.of()));
      Files.writeString(tmp.resolve(STATE), Specs.toJson(state));
      if (Files.exists(abs)) {
        Path old = abs.resolveSibling("." + abs.getFileName() + ".old");
        deleteTree(old);
        AtomicFiles.move(abs, old);
        AtomicFiles.move(tmp, abs);
        deleteTree(old);
      } else {
        AtomicFiles.move(tmp, abs);
      }
    } finally {
      deleteTree(tmp);
    }
  }

  /**
   * Reads a checkpoint folder (or a run folder, whose latest checkpoint is taken) and checks its
   * state against the folder: a folder named {@code epoch-NNNN[-step-SSSSSS]} must hold the state
   * of that position, and the state cannot be past the recipe's last epoch.
   *
   * @throws SpecException naming the folder and the missing, corrupt or inconsistent part
   */
  public static Checkpoint read(Path dir) {
    Path folder = dir;
    if (!Files.exists(dir.resolve(STATE)) && Files.isDirectory(dir.resolve("checkpoints"))) {
      folder =
          latest(dir)
              .orElseThrow(
                  () ->
                      new SpecException(dir + ": no checkpoint in " + dir.resolve("checkpoints")));
    }
    if (!Files.isDirectory(folder)) {
      throw new SpecException(
          folder
              + ": not a checkpoint folder ("
              + (Files.exists(folder) ? "a file" : "does not exist")
              + ")");
    }
    for (String f : REQUIRED) {
      if (!Files.exists(folder.resolve(f))) {
        throw new SpecException(folder + ": not a checkpoint: " + f + " is missing");
      }
    }
    try {
      ArchitectureSpec arch =
          Specs.read(
              folder.resolve("architecture.json"),
              ArchitectureSpec.class,
              folder.resolve("architecture.json").toString());
      TrainingRecipe recipe =
          Specs.read(
              folder.resolve("recipe.yaml"),
              TrainingRecipe.class,
              folder.resolve("recipe.yaml").toString());
      TrainingState state =
          Specs.read(folder.resolve(STATE), TrainingState.class, folder.resolve(STATE).toString());
      checkState(folder, state, recipe);
      Map<String, Tensor> weights = SafeTensors.read(folder.resolve(WEIGHTS)).tensors();
      Path opt = folder.resolve("optimizer.safetensors");
      Map<String, Tensor> optimizer =
          Files.exists(opt) ? SafeTensors.read(opt).tensors() : Map.of();
      return new Checkpoint(arch, recipe, weights, optimizer, state);
    } catch (NoSuchFileException e) {
      throw new SpecException(folder + ": not a checkpoint: missing " + e.getFile());
    } catch (IOException e) {
      throw new SpecException(folder + ": cannot read checkpoint: " + e.getMessage(), e);
    }
  }

  /** The state must match the position the folder is named for and lie within the recipe. */
  private static void checkState(Path folder, TrainingState state, TrainingRecipe recipe) {
    String where = folder.resolve(STATE).toString();
    Matcher m = FOLDER.matcher(folder.getFileName().toString());
    if (m.matches()) {
      int epoch = Integer.parseInt(m.group(1));
      int step = m.group(2) == null ? 0 : Integer.parseInt(m.group(2));
      if (state.epoch() != epoch || state.stepInEpoch() != step) {
        throw new SpecException(
            where
                + ": says epoch "
                + state.epoch()
                + ", step "
                + state.stepInEpoch()
                + " in the epoch, but it sits in checkpoint folder "
                + folder.getFileName()
                + " (epoch "
                + epoch
                + ", step "
                + step
                + "); the state file was edited or moved");
      }
    }
    if (state.epoch() > recipe.epochs()) {
      throw new SpecException(
          where
              + ": says "
              + state.epoch()
              + " epochs are done, but the checkpoint's"
              + " recipe.yaml trains only "
              + recipe.epochs());
    }
    if (state.globalStep() < state.stepInEpoch()) {
      throw new SpecException(
          where
              + ": global_step "
              + state.globalStep()
              + " is smaller than step_in_epoch "
              + state.stepInEpoch());
    }
  }

  /**
   * The newest checkpoint folder under {@code runDir/checkpoints}, by training progress (folder
   * name); {@link #read} reports it when it is incomplete.
   */
  public static Optional<Path> latest(Path runDir) {
    Path root = runDir.resolve("checkpoints");
    if (!Files.isDirectory(root)) {
      return Optional.empty();
    }
    try (Stream<Path> s = Files.list(root)) {
      // by name, not by content: a damaged newest checkpoint is reported by read(), never skipped
      return s.filter(
              p -> FOLDER.matcher(p.getFileName().toString()).matches() && Files.isDirectory(p))
          .max(Comparator.comparing(Path::getFileName));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The folder name for a checkpoint at a given progress; names sort in training order. */
  public static String folderName(int epoch, int stepInEpoch) {
    return stepInEpoch == 0
        ? String.format("epoch-%04d", epoch)
        : String.format("epoch-%04d-step-%06d", epoch, stepInEpoch);
  }

  private static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(q);
      }
    }
  }
}
