package dev.arat.bench;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.arat.evaluator.ort.OrtSessions;
import dev.arat.evaluator.ort.RuntimeOptions;
import dev.arat.onnx.OnnxModels;
import dev.arat.onnx.Tensors;
import dev.arat.onnx.grad.GradientGraph;
import dev.arat.onnx.grad.GradientGraphBuilder;
import dev.arat.specs.LossHead;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

/**
 * Benchmark: the time of one input-gradient call (logits + loss + input gradient, one ORT run of
 * the gradient graph) divided by the time of one forward call of the deployed model, same batch,
 * ONNX Runtime CPU, with the evaluator's session options ({@link OrtSessions}).
 *
 * <p>Usage (from the repository root, after {@code mvn -B -DskipTests package}; the runnable jar
 * holds this class):
 *
 * <pre>
 * java -cp cli/target/arat-*.jar dev.arat.bench.GradientBench [--batch N] [--threads T] [--reps R]
 *     [--head ce] [--profile PREFIX] MODEL.onnx...
 * </pre>
 *
 * <p>Prints, per model, the median forward and gradient times over R timed runs (after warm-up) and
 * their ratio; {@code --profile PREFIX} writes ONNX Runtime's JSON profile of the gradient session
 * (per-node times).
 */
public final class GradientBench {
  private GradientBench() {}

  /**
   * Runs the benchmark.
   *
   * @param args options then model files
   * @throws Exception on any failure
   */
  public static void main(String[] args) throws Exception {
    int batch = 8;
    int threads = 2;
    int reps = 10;
    LossHead head = LossHead.CE;
    String profile = null;
    java.util.List<Path> models = new java.util.ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--batch" -> batch = Integer.parseInt(args[++i]);
        case "--threads" -> threads = Integer.parseInt(args[++i]);
        case "--reps" -> reps = Integer.parseInt(args[++i]);
        case "--head" -> head = LossHead.fromId(args[++i]);
        case "--profile" -> profile = args[++i];
        default -> models.add(Path.of(args[i]));
      }
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    System.out.printf("batch %d, %d threads, %d reps, head %s%n", batch, threads, reps, head);
    for (Path p : models) {
      ModelProto m = OnnxModels.load(p);
      GradientGraph gg = new GradientGraphBuilder().build(m, head);
      long[] shape = gg.inputShape();
      shape[0] = batch;
      float[] x = new float[(int) Tensors.numel(shape)];
      Random r = new Random(1);
      for (int i = 0; i < x.length; i++) {
        x[i] = r.nextFloat();
      }
      long[] labels = new long[batch];
      long[] targets = new long[batch];
      for (int i = 0; i < batch; i++) {
        labels[i] = i % 3;
        targets[i] = (i % 3) + 1;
      }
      // the evaluator's own session options (threads, no spinning): the ratio attacks see
      RuntimeOptions runtime = RuntimeOptions.cpu(threads);
      try (OrtSession.SessionOptions o = OrtSessions.options(runtime, p.toString());
          OrtSession.SessionOptions og = OrtSessions.options(runtime, p.toString())) {
        if (profile != null) {
          og.enableProfiling(profile); // the gradient session only
        }
        try (OrtSession fwd = env.createSession(m.toByteArray(), o);
            OrtSession grad = env.createSession(gg.toByteArray(), og);
            OnnxTensor xt = OnnxTensor.createTensor(env, FloatBuffer.wrap(x), shape);
            OnnxTensor yt =
                OnnxTensor.createTensor(env, LongBuffer.wrap(labels), new long[] {batch});
            OnnxTensor tt =
                OnnxTensor.createTensor(env, LongBuffer.wrap(targets), new long[] {batch})) {
          String in = fwd.getInputNames().iterator().next();
          Map<String, OnnxTensor> feedF = Map.of(in, xt);
          Map<String, OnnxTensor> feedG =
              head.targeted()
                  ? Map.of(
                      GradientGraphBuilder.INPUT,
                      xt,
                      GradientGraphBuilder.LABELS,
                      yt,
                      GradientGraphBuilder.TARGETS,
                      tt)
                  : Map.of(GradientGraphBuilder.INPUT, xt, GradientGraphBuilder.LABELS, yt);
          double[] tf = new double[reps];
          double[] tg = new double[reps];
          for (int i = 0; i < 3; i++) {
            fwd.run(feedF).close();
            grad.run(feedG).close();
          }
          for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            fwd.run(feedF).close();
            long t1 = System.nanoTime();
            grad.run(feedG).close();
            long t2 = System.nanoTime();
            tf[i] = (t1 - t0) / 1e6;
            tg[i] = (t2 - t1) / 1e6;
          }
          double f = median(tf);
          double g = median(tg);
          System.out.printf(
              "%-40s input %-18s forward %9.2f ms  gradient %9.2f ms  ratio %.2f"
                  + "  (gradient graph: %d nodes)%n",
              p.getFileName(),
              Arrays.toString(shape),
              f,
              g,
              g / f,
              gg.model().getGraph().getNodeCount());
        }
      }
    }
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  }
}
