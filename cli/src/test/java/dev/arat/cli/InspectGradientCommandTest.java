package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import dev.arat.onnx.GraphBuilder;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Op;
import dev.arat.onnx.Tensors;
import dev.arat.specs.Npy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.BiFunction;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code arat inspect} and {@code arat gradient} on small generated models. */
class InspectGradientCommandTest {
  @TempDir static Path dir;
  static Path cnn;

  static float[] randn(Random r, int n, double s) {
    float[] a = new float[n];
    for (int i = 0; i < n; i++) {
      a[i] = (float) (r.nextGaussian() * s);
    }
    return a;
  }

  /** input (N,3,8,8) -> body -> Conv 3x3 -> Relu -> MaxPool 2 -> Flatten -> Gemm -> 5 logits. */
  static ModelProto model(BiFunction<GraphBuilder, String, String> body) {
    Random r = new Random(3);
    GraphBuilder g = new GraphBuilder("small");
    String x = g.imageInput("image", 3, 8, 8);
    String b = body.apply(g, x);
    String c =
        g.node(
            Op.CONV,
            List.of(b, g.floatInitializer("w", randn(r, 4 * 27, 0.5), 4, 3, 3, 3)),
            Map.of("pads", new long[] {1, 1, 1, 1}));
    String p =
        g.node(
            Op.MAX_POOL,
            List.of(g.node(Op.RELU, c)),
            Map.of("kernel_shape", new long[] {2, 2}, "strides", new long[] {2, 2}));
    String f = g.node(Op.FLATTEN, p);
    String z =
        g.node(
            Op.GEMM,
            List.of(
                f,
                g.floatInitializer("fc", randn(r, 5 * 64, 0.2), 5, 64),
                g.floatInitializer("fcb", randn(r, 5, 0.1), 5)),
            Map.of("transB", 1));
    g.output(z, "logits", Tensors.FLOAT, "N", 5);
    g.metadata("arat.test", "yes");
    return g.build(17);
  }

  static Path save(String name, ModelProto m) {
    Path p = dir.resolve(name);
    OnnxModels.save(m, p);
    return p;
  }

  @BeforeAll
  static void makeModel() {
    cnn = save("cnn.onnx", model((g, x) -> x));
  }

  @Test
  void inspectDescribesTheModel() {
    CliRun r = CliRun.arat("inspect", cnn.toString());
    assertEquals(0, r.code(), r.err());
    String o = r.out();
    assertTrue(o.contains("image: float (N, 3, 8, 8)"), o);
    assertTrue(o.contains("logits: float (N, 5)"), o);
    assertTrue(o.contains("arat.test = yes"), o);
    assertTrue(o.contains("ai.onnx 17"), o);
    assertTrue(o.matches("(?s).*Conv\\s+1.*"), o);
    assertTrue(o.contains("white-box attacks: possible"), o);
    assertTrue(o.contains("findings: none"), o);
  }

  @Test
  void gradientCheckPasses() {
    CliRun r = CliRun.arat("inspect", cnn.toString(), "--gradient-check", "--threads", "1");
    assertEquals(0, r.code(), r.out() + r.err());
    assertTrue(r.out().contains("PASSED"), r.out());
  }

  @Test
  void gradientMaskingFailsTheCheckWithExit3() {
    // y = x/100 + Cast(Cast(255 x, int32), float)/255: the staircase has slope ~1 at the
    // finite-difference scale, while the gradient sees only 1/100 (no gradient through the cast)
    Path m =
        save(
            "staircase.onnx",
            model(
                (g, x) -> {
                  String s = g.node(Op.MUL, x, g.floatScalar("k", 255f));
                  g.appendRaw(
                      NodeProto.newBuilder()
                          .setOpType("Cast")
                          .setName("to_int")
                          .addInput(s)
                          .addOutput("as_int")
                          .addAttribute(
                              ai.onnx.proto.OnnxMl.AttributeProto.newBuilder()
                                  .setName("to")
                                  .setType(ai.onnx.proto.OnnxMl.AttributeProto.AttributeType.INT)
                                  .setI(6))
                          .build());
                  g.appendRaw(
                      NodeProto.newBuilder()
                          .setOpType("Cast")
                          .setName("to_float")
                          .addInput("as_int")
                          .addOutput("stairs")
                          .addAttribute(
                              ai.onnx.proto.OnnxMl.AttributeProto.newBuilder()
                                  .setName("to")
                                  .setType(ai.onnx.proto.OnnxMl.AttributeProto.AttributeType.INT)
                                  .setI(1))
                          .build());
                  return g.node(
                      Op.ADD,
                      g.node(Op.MUL, x, g.floatScalar("small", 0.01f)),
                      g.node(Op.DIV, "stairs", g.floatScalar("k255", 255f)));
                }));
    CliRun plain = CliRun.arat("inspect", m.toString());
    assertEquals(0, plain.code(), plain.err());
    assertTrue(plain.out().contains("NOT TRUSTWORTHY"), plain.out());
    assertTrue(plain.out().contains("integer-cast: node 'to_int' (Cast)"), plain.out());
    CliRun r = CliRun.arat("inspect", m.toString(), "--gradient-check", "--threads", "1");
    assertEquals(3, r.code(), r.out() + r.err());
    assertTrue(r.out().contains("FAILED"), r.out());
  }

  @Test
  void roundMakesWhiteBoxAttacksImpossibleWithExit3() {
    // y = x/100 + Round(255 x)/255: Round has no derivative, so white-box attacks are impossible
    // (ARAT-D017) even though a gradient reaches the input through x/100
    Path m =
        save(
            "round.onnx",
            model(
                (g, x) -> {
                  String s = g.node(Op.MUL, x, g.floatScalar("k", 255f));
                  g.appendRaw(
                      NodeProto.newBuilder()
                          .setOpType("Round")
                          .setName("quantise")
                          .addInput(s)
                          .addOutput("rounded")
                          .build());
                  return g.node(
                      Op.ADD,
                      g.node(Op.MUL, x, g.floatScalar("small", 0.01f)),
                      g.node(Op.DIV, "rounded", g.floatScalar("k255", 255f)));
                }));
    for (String[] args :
        new String[][] {{"inspect", m.toString()}, {"inspect", m.toString(), "--gradient-check"}}) {
      CliRun r = CliRun.arat(args);
      assertEquals(3, r.code(), r.out() + r.err());
      assertTrue(
          r.out().contains("white-box attacks: NOT POSSIBLE (ARAT-D017 white-box-impossible"),
          r.out());
      assertTrue(r.out().contains("rounding: node 'quantise' (Round)"), r.out());
      assertTrue(r.out().contains("allow_black_box_only: true"), r.out());
    }
  }

  @Test
  void unsupportedOpMakesWhiteBoxAttacksImpossibleWithExit3() {
    Path m =
        save(
            "lrn.onnx",
            model(
                (g, x) -> {
                  g.appendRaw(
                      NodeProto.newBuilder()
                          .setOpType("LRN")
                          .setName("norm")
                          .addInput(x)
                          .addOutput("lrn_out")
                          .addAttribute(
                              ai.onnx.proto.OnnxMl.AttributeProto.newBuilder()
                                  .setName("size")
                                  .setType(ai.onnx.proto.OnnxMl.AttributeProto.AttributeType.INT)
                                  .setI(3))
                          .build());
                  return "lrn_out";
                }));
    CliRun r = CliRun.arat("inspect", m.toString());
    assertEquals(3, r.code(), r.out() + r.err());
    assertTrue(r.out().contains("white-box attacks: NOT POSSIBLE (ARAT-D017"), r.out());
    assertTrue(r.out().contains("operator 'LRN'"), r.out());
    assertTrue(r.out().contains("unsupported-op"), r.out());
    CliRun c = CliRun.arat("inspect", m.toString(), "--gradient-check");
    assertEquals(3, c.code(), c.out() + c.err());
  }

  @Test
  void inspectSaysHowAratFeedsAFixedBatchChannelsLastModel() {
    Path byo = Path.of("..", "evaluator", "src", "test", "resources", "byo");
    CliRun fixed = CliRun.arat("inspect", byo.resolve("fixed-batch.onnx").toString());
    assertEquals(0, fixed.code(), fixed.out() + fixed.err());
    assertTrue(
        fixed
            .out()
            .contains(
                "arat feeds: (N,1,28,28) float32 pixels in [0,1]; model layout NCHW, batch"
                    + " fixed 8 (arat runs it in batches of 8)"),
        fixed.out());
    assertTrue(fixed.out().contains("white-box attacks: possible"), fixed.out());
    CliRun nhwc = CliRun.arat("inspect", byo.resolve("nhwc.onnx").toString());
    assertEquals(0, nhwc.code(), nhwc.out() + nhwc.err());
    assertTrue(nhwc.out().contains("model layout NHWC, batch dynamic"), nhwc.out());
    assertTrue(nhwc.out().contains("arat transposes its (N,1,28,28) pixels"), nhwc.out());
    CliRun hidden = CliRun.arat("inspect", byo.resolve("hidden-batch.onnx").toString());
    assertEquals(2, hidden.code(), hidden.out() + hidden.err());
    assertTrue(
        hidden.out().contains("input: NOT USABLE") && hidden.out().contains("dynamic_axes"),
        hidden.out());
  }

  @Test
  void evaluateExitsByTheRuleForUndifferentiableModelsAndSaysWhenNoGateIsSet() throws Exception {
    Path byo = Path.of("..", "evaluator", "src", "test", "resources", "byo");
    Path suite = dir.resolve("byo-suite.yaml");
    Files.writeString(
        suite,
        String.join(
            "\n",
            "name: byo",
            "data: {dataset: synthetic}",
            "samples: 12",
            "threat_model: {norm: Linf, epsilon: 0.03}",
            "attacks:",
            "  - {type: pgd, steps: 2, step_size: 0.01}",
            ""));
    CliRun round =
        CliRun.arat(
            "evaluate",
            "-q",
            "--model",
            byo.resolve("round.onnx").toString(),
            "--suite",
            suite.toString(),
            "--out",
            dir.resolve("eval-round").toString(),
            "--threads",
            "1");
    assertEquals(3, round.code(), round.out() + round.err());
    assertTrue(
        round.out().contains("ARAT-D017") && round.out().contains("UNTRUSTED"),
        round.out() + round.err());
    assertTrue(round.out().contains("not run"), round.out());
    // the report says so with the one code: report.json, report.md and junit.xml are written
    Path reports = dir.resolve("eval-round");
    String json = Files.readString(reports.resolve("report.json"));
    assertTrue(json.contains("\"trusted\" : false") && json.contains("ARAT-D017"), json);
    assertTrue(Files.readString(reports.resolve("report.md")).contains("ARAT-D017"));
    String junit = Files.readString(reports.resolve("junit.xml"));
    assertTrue(junit.contains("untrusted") && junit.contains("ARAT-D017"), junit);
    CliRun fixed =
        CliRun.arat(
            "evaluate",
            "-q",
            "--model",
            byo.resolve("fixed-batch.onnx").toString(),
            "--suite",
            suite.toString(),
            "--out",
            dir.resolve("eval-fixed").toString(),
            "--threads",
            "1");
    assertEquals(0, fixed.code(), fixed.out() + fixed.err());
    assertTrue(fixed.out().contains("NO GATES: the suite sets no gate"), fixed.out());
    assertTrue(!fixed.out().contains("PASSED"), fixed.out());
  }

  @Test
  void inspectMissingOrCorruptFileIsExit2() throws Exception {
    CliRun r = CliRun.arat("inspect", dir.resolve("nope.onnx").toString());
    assertEquals(2, r.code());
    assertTrue(r.err().contains("does not exist"), r.err());
    Path bad = dir.resolve("bad.onnx");
    Files.write(bad, new byte[] {1, 2, 3, 4, 5});
    assertEquals(2, CliRun.arat("inspect", bad.toString()).code());
  }

  /** Writes x (n images), labels and targets; returns the folder. */
  static Path inputs(String name, int n) {
    Path d = dir.resolve(name);
    Random r = new Random(7);
    float[] x = new float[n * 192];
    for (int i = 0; i < x.length; i++) {
      x[i] = r.nextFloat();
    }
    Npy.writeFloat32(d.resolve("x.npy"), x, n, 3, 8, 8);
    long[] y = new long[n];
    long[] t = new long[n];
    for (int i = 0; i < n; i++) {
      y[i] = i % 5;
      t[i] = (i + 2) % 5;
    }
    Npy.writeInt64(d.resolve("y.npy"), y, n);
    Npy.writeInt64(d.resolve("t.npy"), t, n);
    return d;
  }

  @Test
  void gradientWritesLogitsLossesAndGradients() {
    Path in = inputs("in", 3);
    for (String loss : new String[] {"ce", "margin", "dlr", "ce-targeted", "dlr-targeted"}) {
      Path out = dir.resolve("out-" + loss);
      List<String> args =
          new java.util.ArrayList<>(
              List.of(
                  "gradient",
                  cnn.toString(),
                  "--input",
                  in.resolve("x.npy").toString(),
                  "--labels",
                  in.resolve("y.npy").toString(),
                  "--loss",
                  loss,
                  "--out",
                  out.toString(),
                  "--threads",
                  "1"));
      if (loss.endsWith("targeted")) {
        args.addAll(List.of("--targets", in.resolve("t.npy").toString()));
      }
      CliRun r = CliRun.arat(args.toArray(String[]::new));
      assertEquals(0, r.code(), r.out() + r.err());
      Npy.NpyArray z = Npy.read(out.resolve("logits.npy"));
      Npy.NpyArray l = Npy.read(out.resolve("losses.npy"));
      Npy.NpyArray g = Npy.read(out.resolve("input_grad.npy"));
      assertArrayEquals(new long[] {3, 5}, z.shape());
      assertArrayEquals(new long[] {3}, l.shape());
      assertArrayEquals(new long[] {3, 3, 8, 8}, g.shape());
      if (loss.equals("ce")) {
        for (int s = 0; s < 3; s++) {
          double lse = 0;
          for (int j = 0; j < 5; j++) {
            lse += Math.exp(z.floats()[s * 5 + j]);
          }
          double ce = Math.log(lse) - z.floats()[s * 5 + s % 5];
          assertEquals(ce, l.floats()[s], 1e-4);
        }
      }
      assertTrue(
          java.util.stream.IntStream.range(0, g.floats().length)
              .anyMatch(i -> g.floats()[i] != 0f));
    }
  }

  @Test
  void gradientInputErrorsAreExit2WithClearMessages() throws Exception {
    Path in = inputs("bad", 2);
    String x = in.resolve("x.npy").toString();
    String y = in.resolve("y.npy").toString();
    String out = dir.resolve("o").toString();
    CliRun r =
        CliRun.arat(
            "gradient",
            cnn.toString(),
            "--input",
            x,
            "--labels",
            y,
            "--loss",
            "ce-targeted",
            "--out",
            out);
    assertEquals(2, r.code());
    assertTrue(r.err().contains("needs --targets"), r.err());
    r =
        CliRun.arat(
            "gradient",
            cnn.toString(),
            "--input",
            x,
            "--labels",
            y,
            "--loss",
            "hinge",
            "--out",
            out);
    assertEquals(2, r.code());
    assertTrue(r.err().contains("unknown loss 'hinge'"), r.err());
    Npy.writeInt64(in.resolve("y3.npy"), new long[] {0, 1, 2}, 3);
    r =
        CliRun.arat(
            "gradient",
            cnn.toString(),
            "--input",
            x,
            "--labels",
            in.resolve("y3.npy").toString(),
            "--loss",
            "ce",
            "--out",
            out);
    assertEquals(2, r.code());
    assertTrue(r.err().contains("has 3 entries, --input has 2 images"), r.err());
    Npy.writeInt64(in.resolve("y9.npy"), new long[] {0, 9}, 2);
    r =
        CliRun.arat(
            "gradient",
            cnn.toString(),
            "--input",
            x,
            "--labels",
            in.resolve("y9.npy").toString(),
            "--loss",
            "ce",
            "--out",
            out);
    assertEquals(2, r.code());
    assertTrue(r.err().contains("entry 1 is 9, the model has 5 classes"), r.err());
    Npy.writeFloat32(in.resolve("x16.npy"), new float[2 * 3 * 16 * 16], 2, 3, 16, 16);
    r =
        CliRun.arat(
            "gradient",
            cnn.toString(),
            "--input",
            in.resolve("x16.npy").toString(),
            "--labels",
            y,
            "--loss",
            "ce",
            "--out",
            out);
    assertEquals(2, r.code());
    assertTrue(r.err().contains("the model takes [3, 8, 8]"), r.err());
    r =
        CliRun.arat(
            "gradient", cnn.toString(), "--input", y, "--labels", y, "--loss", "ce", "--out", out);
    assertEquals(2, r.code());
    assertTrue(r.err().contains("must be a float32 array of shape (N,C,H,W)"), r.err());
    Files.writeString(in.resolve("junk.npy"), "not numpy");
    r =
        CliRun.arat(
            "gradient",
            cnn.toString(),
            "--input",
            in.resolve("junk.npy").toString(),
            "--labels",
            y,
            "--loss",
            "ce",
            "--out",
            out);
    assertEquals(2, r.code());
    assertTrue(r.err().contains("not a NumPy .npy file"), r.err());
    r =
        CliRun.arat(
            "gradient",
            cnn.toString(),
            "--input",
            in.resolve("none.npy").toString(),
            "--labels",
            y,
            "--loss",
            "ce",
            "--out",
            out);
    assertEquals(2, r.code());
    assertTrue(r.err().contains("does not exist"), r.err());
  }
}
