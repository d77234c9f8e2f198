package dev.arat.specs;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Built-in recipes and suites shipped as resources and addressed by name ({@code --suite demo});
 * anything else is read as a file path.
 */
public final class Builtins {
  private Builtins() {}

  /**
   * Names of the built-in training recipes: {@code demo}; the paper's Table 3 rows {@code
   * <cifar10|cifar100>-<resnet18|wrn34-10>-<pgd-at|trades|arat|arat-swa>} (100 epochs, sized for a
   * GPU); and four Fashion-MNIST recipes with one equal short budget, {@code fmnist-standard},
   * {@code fmnist-pgd-at}, {@code fmnist-trades}, {@code fmnist-arat}.
   */
  public static final List<String> RECIPES =
      List.of(
          "demo",
          "cifar10-resnet18-pgd-at",
          "cifar10-resnet18-trades",
          "cifar10-resnet18-arat",
          "cifar10-resnet18-arat-swa",
          "cifar10-wrn34-10-pgd-at",
          "cifar10-wrn34-10-trades",
          "cifar10-wrn34-10-arat",
          "cifar10-wrn34-10-arat-swa",
          "cifar100-resnet18-pgd-at",
          "cifar100-resnet18-trades",
          "cifar100-resnet18-arat",
          "cifar100-resnet18-arat-swa",
          "cifar100-wrn34-10-pgd-at",
          "cifar100-wrn34-10-trades",
          "cifar100-wrn34-10-arat",
          "cifar100-wrn34-10-arat-swa",
          "fmnist-standard",
          "fmnist-pgd-at",
          "fmnist-trades",
          "fmnist-arat");

  /**
   * Names of the built-in evaluation suites: {@code demo}; the AutoAttack-standard profiles {@code
   * autoattack-standard} (Linf 8/255) and {@code autoattack-standard-l2} (L2 0.5), i.e. APGD-CE,
   * APGD-T, FAB-T and Square as implemented by arat; the fast {@code ci} profile; the smoke profile
   * {@code quick} (FGSM and PGD-10).
   */
  public static final List<String> SUITES =
      List.of("demo", "autoattack-standard", "autoattack-standard-l2", "ci", "quick");

  /** The YAML text of a built-in recipe. */
  public static String recipeText(String name) {
    return text("recipes/" + name + ".yaml");
  }

  /** The YAML text of a built-in suite. */
  public static String suiteText(String name) {
    return text("suites/" + name + ".yaml");
  }

  /** Resolves a recipe argument: an existing file, else a built-in name. */
  public static TrainingRecipe recipe(String pathOrName) {
    Path p = Path.of(pathOrName);
    // a regular file wins; otherwise a built-in name (a folder named like one, e.g. ci/, does not
    // count)
    if (Files.isRegularFile(p) || !RECIPES.contains(pathOrName)) {
      if (!Files.exists(p)) {
        throw new SpecException(
            pathOrName + ": no such recipe file, and not a built-in recipe " + RECIPES);
      }
      return Specs.readRecipe(p);
    }
    return Specs.parse(
        recipeText(pathOrName), TrainingRecipe.class, "built-in recipe " + pathOrName);
  }

  /** Resolves a suite argument: an existing file, else a built-in name. */
  public static EvaluationSuite suite(String pathOrName) {
    Path p = Path.of(pathOrName);
    // a regular file wins; otherwise a built-in name (a folder named like one, e.g. ci/, does not
    // count)
    if (Files.isRegularFile(p) || !SUITES.contains(pathOrName)) {
      if (!Files.exists(p)) {
        throw new SpecException(
            pathOrName
                + ": no such suite file, and not a built-in suite; built-in suites: "
                + bracketed(SUITES));
      }
      return Specs.readSuite(p);
    }
    return Specs.parse(
        suiteText(pathOrName), EvaluationSuite.class, "built-in suite " + pathOrName);
  }

  /** {@code [a] [b] ...}: each name bracketed, so a name is never mistaken for part of another. */
  private static String bracketed(List<String> names) {
    StringBuilder sb = new StringBuilder();
    for (String n : names) {
      sb.append(sb.length() == 0 ? "" : " ").append('[').append(n).append(']');
    }
    return sb.toString();
  }

  private static String text(String resource) {
    try (var in = Builtins.class.getResourceAsStream("builtin/" + resource)) {
      if (in == null) {
        throw new SpecException("built-in resource missing: " + resource);
      }
      return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    } catch (java.io.IOException e) {
      throw new SpecException("cannot read built-in " + resource + ": " + e.getMessage(), e);
    }
  }
}
