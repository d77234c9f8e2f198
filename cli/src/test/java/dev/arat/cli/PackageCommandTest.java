package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.deploy.Dsse;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code arat evaluate --variant}, {@code arat package} and {@code arat verify} through the command
 * line.
 */
class PackageCommandTest {

  /**
   * A random linear classifier on 1x28x28; {@code noise} perturbs the weights of seed 1's model.
   */
  static Path linear(Path file, double noise) {
    GraphBuilder g = new GraphBuilder("linear");
    String x = g.imageInput("input", 1, 28, 28);
    float[] w = new float[10 * 784];
    SplittableRandom r = new SplittableRandom(1);
    SplittableRandom n = new SplittableRandom(2);
    for (int i = 0; i < w.length; i++) {
      w[i] = (float) (0.05 * r.nextGaussian() + noise * n.nextGaussian());
    }
    String flat = g.node(Op.FLATTEN, List.of(x), Map.of("axis", 1L));
    String z =
        g.node(
            Op.GEMM,
            List.of(
                flat,
                g.floatInitializer("w", w, 10, 784),
                g.floatInitializer("b", new float[10], 10)),
            Map.of("transB", 1L));
    g.output(z, "logits", Tensors.FLOAT, "N", 10);
    OnnxModels.save(g.build(17), file);
    return file;
  }

  @Test
  void evaluatesVariantsPackagesAndVerifies(@TempDir Path dir) throws Exception {
    Path model = linear(dir.resolve("model.onnx"), 0);
    Path variant = linear(dir.resolve("model.noisy.onnx"), 0.002);
    Path suite = dir.resolve("suite.yaml");
    Files.writeString(
        suite,
        String.join(
            "\n",
            "name: cli-pkg",
            "data: {dataset: synthetic}",
            "samples: 50",
            "seed: 1",
            "batch_size: 25",
            "threat_model: {norm: Linf, epsilon: 0.05}",
            "attacks: [{type: fgsm}]",
            "gates: {min_robust_accuracy: 0.0, max_robust_drop_vs_parent: 0.2, min_top1_agreement: 0.5}",
            ""));
    Path eval = dir.resolve("eval");
    CliRun ev =
        CliRun.quiet(
            "evaluate",
            "--model",
            model.toString(),
            "--variant",
            variant.toString(),
            "--suite",
            suite.toString(),
            "--out",
            eval.toString(),
            "--threads",
            "1");
    assertEquals(ExitCodes.OK, ev.code(), ev.out() + ev.err());
    assertTrue(
        ev.out().contains("model.noisy.onnx")
            && ev.out().contains("top-1 agr")
            && ev.out().contains("gate min_top1_agreement[model.noisy.onnx]"),
        ev.out());

    KeyPair kp = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
    Dsse.writePem(dir.resolve("key.pem"), kp.getPrivate());
    Dsse.writePem(dir.resolve("key.pub.pem"), kp.getPublic());
    Path pkg = dir.resolve("pkg");
    CliRun p =
        CliRun.quiet(
            "package",
            "--model",
            model.toString(),
            "--variant",
            variant.toString(),
            "--eval",
            eval.toString(),
            "--out",
            pkg.toString(),
            "--sign-key",
            dir.resolve("key.pem").toString());
    assertEquals(ExitCodes.OK, p.code(), p.out() + p.err());
    assertTrue(p.out().contains("signed") && p.out().contains("verdict passed"), p.out());

    CliRun v =
        CliRun.quiet(
            "verify",
            pkg.toString(),
            "--public-key",
            dir.resolve("key.pub.pem").toString(),
            "--recheck",
            "50",
            "--threads",
            "1");
    assertEquals(ExitCodes.OK, v.code(), v.out() + v.err());
    assertTrue(
        v.out().contains("VERIFIED")
            && v.out().contains("signature")
            && v.out().contains("100 sample(s)")
            && v.out().contains("certified verdict: passed"),
        v.out());
    CliRun archive = CliRun.quiet("verify", dir.resolve("pkg.tar.gz").toString());
    assertEquals(ExitCodes.OK, archive.code(), archive.out() + archive.err());

    byte[] b = Files.readAllBytes(pkg.resolve("model.noisy.onnx"));
    b[b.length / 2] ^= 0x10;
    Files.write(pkg.resolve("model.noisy.onnx"), b);
    CliRun bad = CliRun.quiet("verify", pkg.toString());
    assertEquals(ExitCodes.UNTRUSTED, bad.code(), bad.out() + bad.err());
    assertTrue(bad.out().contains("MISMATCH model.noisy.onnx: sha256: manifest says"), bad.out());

    CliRun other =
        CliRun.quiet(
            "package",
            "--model",
            variant.toString(),
            "--eval",
            eval.toString(),
            "--out",
            dir.resolve("pkg2").toString());
    assertEquals(ExitCodes.INPUT_ERROR, other.code(), other.out() + other.err());
    assertTrue(
        other.err().contains("was measured on a model with SHA-256")
            && !other.err().contains("Exception"),
        other.err());
    CliRun missing = CliRun.quiet("verify", dir.resolve("nothing.tar.gz").toString());
    assertEquals(ExitCodes.INPUT_ERROR, missing.code());
    CliRun shard =
        CliRun.quiet(
            "evaluate",
            "--model",
            model.toString(),
            "--variant",
            variant.toString(),
            "--shard",
            "1/2",
            "--suite",
            suite.toString(),
            "--out",
            dir.resolve("e2").toString());
    assertEquals(ExitCodes.INPUT_ERROR, shard.code());
  }

  /**
   * An intact package of a failed or ungated evaluation: package warns, verify says so and exits 1.
   */
  @Test
  void verifyExitCodeFollowsTheCertifiedVerdict(@TempDir Path dir) throws Exception {
    Path model = linear(dir.resolve("model.onnx"), 0);
    String[] cases = {"gates: {min_robust_accuracy: 1.0}", "failed", "", "no gates"};
    for (int c = 0; c < cases.length; c += 2) {
      Path suite = dir.resolve("suite" + c + ".yaml");
      Files.writeString(
          suite,
          String.join(
              "\n",
              "name: cli-verdict",
              "data: {dataset: synthetic}",
              "samples: 20",
              "seed: 1",
              "batch_size: 20",
              "threat_model: {norm: Linf, epsilon: 0.05}",
              "attacks: [{type: fgsm}]",
              cases[c],
              ""));
      Path eval = dir.resolve("eval" + c);
      CliRun ev =
          CliRun.quiet(
              "evaluate",
              "--model",
              model.toString(),
              "--suite",
              suite.toString(),
              "--out",
              eval.toString(),
              "--threads",
              "1");
      assertTrue(
          ev.code() == ExitCodes.GATE_FAILED || ev.code() == ExitCodes.OK, ev.out() + ev.err());
      Path pkg = dir.resolve("pkg" + c);
      CliRun p =
          CliRun.quiet(
              "package",
              "--model",
              model.toString(),
              "--eval",
              eval.toString(),
              "--out",
              pkg.toString());
      assertEquals(ExitCodes.OK, p.code(), p.out() + p.err());
      if (c == 0) {
        assertTrue(p.err().contains("warning: the packaged verdict is failed"), p.err());
      }
      CliRun v = CliRun.quiet("verify", pkg.toString());
      assertEquals(ExitCodes.GATE_FAILED, v.code(), v.out() + v.err());
      assertTrue(
          v.out().contains("VERIFIED")
              && v.out().contains("certified verdict: " + cases[c + 1])
              && v.out().contains("do not deploy"),
          v.out());
    }
  }
}
