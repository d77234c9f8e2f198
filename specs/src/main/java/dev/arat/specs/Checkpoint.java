package dev.arat.specs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
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
 * <p>{@link #write} builds the folder under a temporary name and renames it into place, so a
 * crash never leaves a half-written checkpoint under the final name.
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

  /** Writes the checkpoint to folder {@code dir} atomically, replacing an older one. */
  public void write(Path dir) throws IOException {
    Path abs = dir.toAbsolutePath();
    Files.createDirectories(abs.getParent());
    Path tmp = Files.createTempDirectory(abs.getParent(), "." + abs.getFileName() + ".tmp");
    try {
      Files.writeString(tmp.resolve("architecture.json"), Specs.toJson(architecture));
      Files.writeString(tmp.resolve("recipe.yaml"), Specs.toYaml(recipe));
      Files.write(tmp.resolve(WEIGHTS), SafeTensors.encode(weights, state.provenance()));
      Files.write(tmp.resolve("optimizer.safetensors"), SafeTensors.encode(optimizer, Map.of()));
      Files.writeString(tmp.resolve("state.json"), Specs.toJson(state));
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
   * Reads a checkpoint folder (or a run folder, whose latest checkpoint is taken).
   *
   * @throws SpecException naming the folder and the missing or corrupt part
   */
  public static Checkpoint read(Path dir) {
    Path folder = dir;
    if (!Files.exists(dir.resolve("state.json")) && Files.isDirectory(dir.resolve("checkpoints"))) {
      folder = latest(dir).orElseThrow(() -> new SpecException(dir + ": no checkpoint in " + dir.resolve("checkpoints")));
    }
    try {
      ArchitectureSpec arch = Specs.parse(
          Files.readString(folder.resolve("architecture.json"), StandardCharsets.UTF_8),
          ArchitectureSpec.class, folder.resolve("architecture.json").toString());
      TrainingRecipe recipe = Specs.parse(
          Files.readString(folder.resolve("recipe.yaml"), StandardCharsets.UTF_8),
          TrainingRecipe.class, folder.resolve("recipe.yaml").toString());
      TrainingState state = Specs.parse(
          Files.readString(folder.resolve("state.json"), StandardCharsets.UTF_8),
          TrainingState.class, folder.resolve("state.json").toString());
      Map<String, Tensor> weights = SafeTensors.read(folder.resolve(WEIGHTS)).tensors();
      Path opt = folder.resolve("optimizer.safetensors");
      Map<String, Tensor> optimizer = Files.exists(opt) ? SafeTensors.read(opt).tensors() : Map.of();
      return new Checkpoint(arch, recipe, weights, optimizer, state);
    } catch (NoSuchFileException e) {
      throw new SpecException(folder + ": not a checkpoint: missing " + e.getFile());
    } catch (IOException e) {
      throw new SpecException(folder + ": cannot read checkpoint: " + e.getMessage(), e);
    }
  }

  /** The newest complete checkpoint under {@code runDir/checkpoints}, by training progress. */
  public static Optional<Path> latest(Path runDir) {
    Path root = runDir.resolve("checkpoints");
    if (!Files.isDirectory(root)) {
      return Optional.empty();
    }
    try (Stream<Path> s = Files.list(root)) {
      return s.filter(p -> !p.getFileName().toString().startsWith("."))
          .filter(p -> Files.exists(p.resolve("state.json")))
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

  /** SHA-256 (hex) of a file, e.g. a checkpoint's weights or an exported model. */
  public static String sha256(Path file) throws IOException {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update(Files.readAllBytes(file));
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
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
