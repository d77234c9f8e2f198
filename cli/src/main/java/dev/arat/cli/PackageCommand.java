package dev.arat.cli;

import dev.arat.deploy.Packager;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code arat package}: a deployable folder and .tar.gz with certificate, model card and manifest.
 */
@Command(
    name = "package",
    mixinStandardHelpOptions = true,
    usageHelpAutoWidth = true,
    description = {
      "Build a deployment package from an evaluated model (and its variants).",
      "",
      "Writes DIR/ and DIR.tar.gz: the ONNX files, each with its certificate in metadata_props; "
          + "MODEL_CARD.md (Hugging Face model-index front matter); the report files under eval/; the "
          + "checkpoint's recipe under provenance/; manifest.json (every file's size and SHA-256, an in-toto "
          + "Statement v1 with the verdict); with --sign-key a DSSE envelope manifest.dsse.json. "
          + "Check it with 'arat verify'. A verdict other than passed is packaged (an audit package) with "
          + "a warning. Exit 0 written, 2 bad input (e.g. a report of another model)."
    })
final class PackageCommand implements Callable<Integer> {
  @Option(
      names = "--model",
      required = true,
      paramLabel = "FILE",
      description = "The evaluated ONNX model.")
  Path model;

  @Option(
      names = "--variant",
      paramLabel = "FILE",
      description = "A variant evaluated with 'arat evaluate --variant' (repeatable).")
  List<Path> variants;

  @Option(
      names = "--eval",
      required = true,
      paramLabel = "DIR",
      description = "The folder 'arat evaluate' wrote (report.json; variants.json with variants).")
  Path eval;

  @Option(
      names = "--checkpoint",
      paramLabel = "DIR",
      description =
          "The checkpoint (or run folder) the model was exported from: its recipe, architecture "
              + "and state go into provenance/.")
  Path checkpoint;

  @Option(
      names = "--out",
      required = true,
      paramLabel = "DIR",
      description = "The package folder to create (new or empty); the archive is DIR.tar.gz.")
  Path out;

  @Option(
      names = "--sign-key",
      paramLabel = "PEM",
      description =
          "Ed25519 private key (PKCS#8 PEM, e.g. 'openssl genpkey -algorithm ed25519') to sign "
              + "the statement (DSSE).")
  Path signKey;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    Packager.Result r =
        Packager.build(new Packager.Request(model, variants, eval, checkpoint, out, signKey, null));
    PrintWriter o = new Output(spec).out();
    o.printf(
        "package: %s (%d files%s), verdict %s%n",
        r.dir(), r.files().size(), r.signed() ? ", signed" : "", r.verdict());
    o.printf("archive: %s%n", r.archive());
    if (!"passed".equals(r.verdict())) {
      spec.commandLine()
          .getErr()
          .printf(
              "warning: the packaged verdict is %s, not passed: this is an audit package, "
                  + "not a deployable one ('arat verify' exits non-zero on it)%n",
              r.verdict());
    }
    return ExitCodes.OK;
  }
}
