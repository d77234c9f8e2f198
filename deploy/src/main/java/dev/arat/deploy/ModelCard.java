package dev.arat.deploy;

import dev.arat.evaluator.report.Report;
import dev.arat.specs.Specs;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code MODEL_CARD.md}: Hugging Face model-card front matter ({@code model-index} with one result
 * per packaged model: task, dataset, clean accuracy and robust accuracy with the threat model in
 * the metric's {@code args}) and prose: what was certified, how the model was trained (from its
 * {@code arat.*} metadata and the checkpoint's recipe when packaged), the variants, and the limits
 * of the certificate.
 */
final class ModelCard {
  private ModelCard() {}

  /** One packaged model for the card. */
  record Model(String file, String role, Report report) {}

  static String write(
      String name, List<Model> models, String recipeYaml, String verdict, String date) {
    Report parent = models.get(0).report();
    List<Object> results = new ArrayList<>();
    for (Model m : models) {
      Report r = m.report();
      Map<String, Object> dataset = new LinkedHashMap<>();
      dataset.put("type", r.dataset().name());
      dataset.put("name", r.dataset().name());
      dataset.put("split", r.dataset().split());
      Map<String, Object> args = new LinkedHashMap<>();
      args.put("norm", r.threatModel().norm().id());
      args.put("epsilon", r.threatModel().epsilon());
      args.put("samples", r.samples());
      args.put("seed", r.seed());
      args.put("attacks", r.attacks().stream().map(Report.AttackEntry::name).toList());
      args.put(
          "ci95",
          List.of(round(r.robustAccuracyCi95().low()), round(r.robustAccuracyCi95().high())));
      args.put("model_file", m.file());
      Map<String, Object> clean = new LinkedHashMap<>();
      clean.put("type", "accuracy");
      clean.put("value", round(r.cleanAccuracy()));
      clean.put("name", "clean accuracy (" + m.file() + ")");
      clean.put("verified", false);
      Map<String, Object> robust = new LinkedHashMap<>();
      robust.put("type", "robust_accuracy");
      robust.put("value", round(r.robustAccuracy()));
      robust.put(
          "name",
          "robust accuracy, "
              + r.suite().name()
              + " suite, "
              + r.threatModel().label()
              + " ("
              + m.file()
              + ")");
      robust.put("config", r.suite().name());
      robust.put("args", args);
      robust.put("verified", false);
      Map<String, Object> result = new LinkedHashMap<>();
      result.put("task", Map.of("type", "image-classification", "name", "Image Classification"));
      result.put("dataset", dataset);
      result.put("metrics", List.of(clean, robust));
      results.add(result);
    }
    Map<String, Object> index = new LinkedHashMap<>();
    index.put("name", name);
    index.put("results", results);
    Map<String, Object> front = new LinkedHashMap<>();
    front.put("library_name", "onnx");
    front.put("pipeline_tag", "image-classification");
    front.put("tags", List.of("onnx", "adversarial-robustness", "arat"));
    front.put("datasets", List.of(parent.dataset().name()));
    front.put("metrics", List.of("accuracy", "robust_accuracy"));
    front.put("model-index", List.of(index));

    Map<String, String> meta =
        parent.model().metadata() == null ? Map.of() : parent.model().metadata();
    StringBuilder b = new StringBuilder("---\n").append(Specs.toYaml(front)).append("---\n\n");
    b.append("# ").append(name).append("\n\n");
    b.append(
        String.format(
            Locale.ROOT,
            "An image classifier for %s (%d classes, input %s), shipped as ONNX with a"
                + " robustness certificate by arat %s. Verdict of the packaged evaluation: **%s** (%s).%n%n",
            parent.dataset().name(),
            parent.model().numClasses(),
            parent.model().inputShape(),
            parent.tool().version(),
            verdict,
            date));
    b.append("## Certified results\n\n");
    b.append(
        String.format(
            Locale.ROOT,
            "Suite `%s`, threat model **%s** (pixels in [0,1]), %d test samples (seed %d,"
                + " samples SHA-256 `%s`), measured with ONNX Runtime %s on the `%s` execution provider.%n%n",
            parent.suite().name(),
            parent.threatModel().label(),
            parent.samples(),
            parent.seed(),
            parent.dataset().samplesSha256(),
            parent.tool().onnxruntime(),
            parent.tool().executionProvider()));
    b.append(
        "| file | role | clean accuracy | robust accuracy | 95% CI (robust) | verdict |\n|---|---|---:|---:|---|---|\n");
    for (Model m : models) {
      Report r = m.report();
      b.append(
          String.format(
              Locale.ROOT,
              "| `%s` | %s | %.2f%% | %.2f%% | [%.2f%%, %.2f%%] | %s |%n",
              m.file(),
              m.role(),
              100 * r.cleanAccuracy(),
              100 * r.robustAccuracy(),
              100 * r.robustAccuracyCi95().low(),
              100 * r.robustAccuracyCi95().high(),
              Certificate.verdict(r)));
    }
    b.append("\nAttacks of the cascade (each on the samples still robust): ")
        .append(
            String.join(", ", parent.attacks().stream().map(a -> "`" + a.name() + "`").toList()))
        .append(". Full results: `eval/report.md`, `eval/report.json`.\n\n");
    b.append("## Training\n\n");
    if (meta.get("arat.training_method") != null) {
      b.append(
          String.format(
              Locale.ROOT,
              "Trained with **%s** (arat), architecture `%s`, %s epoch(s), seed %s,"
                  + " training threat model %s; exported from the %s branch.%n",
              meta.get("arat.training_method"),
              meta.getOrDefault("arat.architecture_name", "?"),
              meta.getOrDefault("arat.epoch", "?"),
              meta.getOrDefault("arat.seed", "?"),
              meta.getOrDefault("arat.threat_model", "?"),
              meta.getOrDefault("arat.bn_branch", "?")));
    } else {
      b.append("The model's metadata names no arat training run (it was trained elsewhere).\n");
    }
    if (recipeYaml != null) {
      b.append("\nThe recipe of the checkpoint (also in `provenance/recipe.yaml`):\n\n```yaml\n")
          .append(recipeYaml)
          .append(recipeYaml.endsWith("\n") ? "" : "\n")
          .append("```\n");
    }
    b.append("\n## Limits\n\n");
    b.append(
        "- The robust accuracy is an upper bound found by the listed attacks on the listed samples, not a"
            + " proof: a stronger attack may lower it. The interval covers sampling error only.\n");
    b.append(
            "- The certificate covers the files by their digests and the runtime it was measured on (ONNX"
                + " Runtime ")
        .append(parent.tool().onnxruntime())
        .append(", `")
        .append(parent.tool().executionProvider())
        .append(
            "` provider, its kernels). Another runtime or GPU (TensorRT, CUDA; FP16/INT8 kernels) computes"
                + " differently: rerun `arat evaluate --provider tensorrt` on the target (docs/deployment.md).\n");
    b.append(
        "- Only the threat model above was tested; other norms, radii, corruptions and distribution shift"
            + " were not.\n");
    b.append(
        "\n`arat verify` checks this folder: every digest, each ONNX file's certificate, the signature if any,"
            + " and (`--recheck N`) re-runs the suite on N samples.\n");
    return b.toString();
  }

  private static double round(double v) {
    return Math.round(v * 1e6) / 1e4; // percent, 4 decimals
  }
}
