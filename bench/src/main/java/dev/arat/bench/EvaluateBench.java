package dev.arat.bench;

import dev.arat.attack.ImageBatch;
import dev.arat.attack.ModelCalls;
import dev.arat.evaluator.ort.OrtClassifier;
import dev.arat.evaluator.report.Report;
import dev.arat.specs.LossHead;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * {@code arat bench evaluate}: where an evaluation's time goes. Per attack of a finished
 * evaluation, its seconds and the model calls it made ({@link ModelCalls}, from report.json); then
 * one forward call and one gradient call per loss head the suite uses, timed on the evaluator's own
 * {@link OrtClassifier} at the suite's batch size, interleaved round by round (after warm-up), so
 * the ratio gradient/forward is paired against load drift.
 */
public final class EvaluateBench {
  private EvaluateBench() {}

  /**
   * Median call times at one batch size.
   *
   * @param batch images per call
   * @param rounds timed rounds (each round: one forward, then one gradient call per head)
   * @param forward seconds per forward call
   * @param gradient seconds per gradient call, per head
   */
  public record CallTimes(int batch, int rounds, Stats forward, Map<LossHead, Stats> gradient) {
    /** Median gradient time of {@code head} over median forward time. */
    public double ratio(LossHead head) {
      return gradient.get(head).median() / forward.median();
    }
  }

  /**
   * Times forward and gradient calls of {@code model} on {@code batch} uniform random images
   * (labels {@code i mod K}, targets {@code (i+1) mod K}), drawn from {@code seed}.
   *
   * @param model the classifier as the evaluator opened it
   * @param heads the loss heads to time (at least one)
   * @param batch images per call, {@code > 0}
   * @param warmup untimed rounds first
   * @param rounds timed rounds, {@code > 0}
   */
  public static CallTimes callTimes(
      OrtClassifier model, List<LossHead> heads, int batch, int warmup, int rounds, long seed) {
    if (batch <= 0 || rounds <= 0 || warmup < 0 || heads.isEmpty()) {
      throw new IllegalArgumentException("need batch > 0, rounds > 0, warmup >= 0 and a loss head");
    }
    int c = model.channels();
    int h = model.height();
    int w = model.width();
    int k = model.numClasses();
    float[] x = new float[batch * c * h * w];
    SplittableRandom r = new SplittableRandom(seed);
    for (int i = 0; i < x.length; i++) {
      x[i] = (float) r.nextDouble();
    }
    ImageBatch images = new ImageBatch(x, batch, c, h, w);
    int[] labels = new int[batch];
    int[] targets = new int[batch];
    for (int i = 0; i < batch; i++) {
      labels[i] = i % k;
      targets[i] = (i + 1) % k;
    }
    double[] fwd = new double[rounds];
    Map<LossHead, double[]> grad = new LinkedHashMap<>();
    for (LossHead head : heads) {
      grad.put(head, new double[rounds]);
    }
    for (int round = -warmup; round < rounds; round++) {
      long t0 = System.nanoTime();
      model.logits(images);
      double f = (System.nanoTime() - t0) / 1e9;
      if (round >= 0) {
        fwd[round] = f;
      }
      for (LossHead head : heads) {
        long t1 = System.nanoTime();
        model.lossGradient(images, labels, head.targeted() ? targets : null, head);
        double g = (System.nanoTime() - t1) / 1e9;
        if (round >= 0) {
          grad.get(head)[round] = g;
        }
      }
    }
    Map<LossHead, Stats> stats = new LinkedHashMap<>();
    grad.forEach((head, v) -> stats.put(head, Stats.of(v)));
    return new CallTimes(batch, rounds, Stats.of(fwd), stats);
  }

  /**
   * The per-attack table of a report and the call times, as printed by {@code arat bench evaluate}.
   */
  public static String table(Report report, CallTimes times) {
    StringBuilder b = new StringBuilder();
    b.append(
        String.format(
            Locale.ROOT,
            "%-22s %7s %9s %24s %9s %24s %9s %8s%n",
            "attack",
            "ran on",
            "seconds",
            "forward calls (images)",
            "fwd s",
            "gradient calls (images)",
            "grad s",
            "other s"));
    double total = 0;
    ModelCalls sum = ModelCalls.NONE;
    for (Report.AttackEntry a : report.attacks()) {
      ModelCalls c = a.modelCalls() == null ? ModelCalls.NONE : a.modelCalls();
      b.append(
          row(a.name(), a.skipped() ? "skipped" : String.valueOf(a.attempted()), a.seconds(), c));
      total += a.seconds();
      sum = sum.plus(c);
    }
    b.append(row("all attacks", "", total, sum));
    b.append(
        String.format(
            Locale.ROOT,
            "evaluation %.1f s (clean pass, checks and reports included)%n",
            report.durationSeconds()));
    b.append(
        String.format(
            Locale.ROOT,
            "calls at batch %d, median of %d interleaved rounds: forward %.1f ms",
            times.batch(),
            times.rounds(),
            1e3 * times.forward().median()));
    times
        .gradient()
        .forEach(
            (head, s) ->
                b.append(
                    String.format(
                        Locale.ROOT,
                        "; gradient %s %.1f ms (%.2fx forward)",
                        head.id(),
                        1e3 * s.median(),
                        times.ratio(head))));
    b.append(String.format(Locale.ROOT, "%n"));
    return b.toString();
  }

  private static String row(String name, String ranOn, double seconds, ModelCalls c) {
    double other = seconds - c.forwardSeconds() - c.gradientSeconds();
    return String.format(
        Locale.ROOT,
        "%-22s %7s %9.1f %24s %9.1f %24s %9.1f %8.1f%n",
        name,
        ranOn,
        seconds,
        String.format(Locale.ROOT, "%,d (%,d)", c.forwardCalls(), c.forwardImages()),
        c.forwardSeconds(),
        String.format(Locale.ROOT, "%,d (%,d)", c.gradientCalls(), c.gradientImages()),
        c.gradientSeconds(),
        other);
  }

  /** The same numbers as a JSON-ready map. */
  public static Map<String, Object> toMap(Report report, CallTimes times) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("suite", report.suite().name());
    m.put("samples", report.samples());
    m.put("robust_accuracy", report.robustAccuracy());
    m.put("duration_seconds", report.durationSeconds());
    List<Map<String, Object>> attacks = new ArrayList<>();
    for (Report.AttackEntry a : report.attacks()) {
      Map<String, Object> e = new LinkedHashMap<>();
      e.put("name", a.name());
      e.put("attempted", a.attempted());
      e.put("skipped", a.skipped());
      e.put("seconds", a.seconds());
      e.put("model_calls", a.modelCalls());
      attacks.add(e);
    }
    m.put("attacks", attacks);
    Map<String, Object> calls = new LinkedHashMap<>();
    calls.put("batch", times.batch());
    calls.put("rounds", times.rounds());
    calls.put("forward_seconds", times.forward());
    Map<String, Object> grads = new LinkedHashMap<>();
    times
        .gradient()
        .forEach(
            (head, s) -> {
              Map<String, Object> g = new LinkedHashMap<>();
              g.put("seconds", s);
              g.put("ratio_to_forward", times.ratio(head));
              grads.put(head.id(), g);
            });
    calls.put("gradient", grads);
    m.put("calls", calls);
    return m;
  }
}
