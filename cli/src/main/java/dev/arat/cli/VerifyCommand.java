package dev.arat.cli;

import dev.arat.deploy.Verifier;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code arat verify}: checks a package built by {@code arat package}. */
@Command(
    name = "verify",
    mixinStandardHelpOptions = true,
    usageHelpAutoWidth = true,
    description = {
      "Verify a deployment package (folder or .tar.gz).",
      "",
      "Re-hashes every file against manifest.json, checks the in-toto statement, each ONNX file's certificate "
          + "against its canonical digest, the manifest and the report, the DSSE signature (--public-key), and "
          + "with --recheck N re-runs the certified suite on N samples per model and compares every per-sample "
          + "outcome with the report. Prints the certified verdict (passed, failed, untrusted, no gates). "
          + "Exit code of an intact package follows 'arat evaluate': 0 verified and passed, 1 verified but "
          + "failed (a gate failed) or no gates set, 3 verified but untrusted; 3 also for a mismatch (NOT "
          + "VERIFIED, each printed as FILE: FIELD: detail), 2 bad input."
    })
final class VerifyCommand implements Callable<Integer> {
  @Parameters(index = "0", paramLabel = "DIR|FILE.tar.gz", description = "The package.")
  Path input;

  @Option(
      names = "--public-key",
      paramLabel = "PEM",
      description = "Ed25519 public key (X.509 PEM) the package's signature must verify with.")
  Path publicKey;

  @Option(
      names = "--recheck",
      defaultValue = "0",
      paramLabel = "N",
      description =
          "Re-run the suite on the first N certified samples of each model (needs the dataset;"
              + " a transfer attack's surrogate is the packaged file of that name, if any).")
  int recheck;

  @Option(
      names = "--data",
      paramLabel = "DIR",
      description = "Dataset folder for --recheck (overrides data.path).")
  Path data;

  @Option(
      names = "--threads",
      defaultValue = "0",
      paramLabel = "N",
      description = "ONNX Runtime intra-op threads (0 = all cores).")
  int threads;

  @Spec CommandSpec spec;

  @Override
  public Integer call() {
    if (recheck < 0) {
      throw new IllegalArgumentException("--recheck: must be >= 0, was " + recheck);
    }
    Output output = new Output(spec);
    Verifier.Result r =
        Verifier.verify(
            input, new Verifier.Options(publicKey, recheck, data, threads, output.progress()));
    PrintWriter out = output.out();
    for (String n : r.notes()) {
      out.println("note: " + n);
    }
    if (!r.verified()) {
      for (Verifier.Mismatch m : r.mismatches()) {
        out.println("MISMATCH " + m.line());
      }
      out.printf("NOT VERIFIED: %d difference(s) in %s%n", r.mismatches().size(), input);
      return ExitCodes.UNTRUSTED;
    }
    out.printf(
        "VERIFIED: %s: %d files, certificates%s%s; certified verdict: %s%n",
        input,
        r.files(),
        r.signatureChecked() ? ", signature" : "",
        r.recheckedSamples() > 0 ? ", " + r.recheckedSamples() + " sample(s) rechecked" : "",
        r.verdict());
    return switch (r.verdict()) {
      case Verifier.PASSED -> ExitCodes.OK;
      case Verifier.UNTRUSTED -> {
        out.println(
            "the package is intact but its certification cannot be trusted: do not deploy it");
        yield ExitCodes.UNTRUSTED;
      }
      default -> {
        out.println(
            "the package is intact but its certification did not pass ("
                + r.verdict()
                + "): do not deploy it");
        yield ExitCodes.GATE_FAILED;
      }
    };
  }
}
