package dev.arat.trainer;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import dev.arat.attack.ImageBatch;
import dev.arat.specs.ArchitectureSpec;
import dev.arat.specs.TrainingRecipe;
import dev.arat.trainer.nn.Autograd;
import dev.arat.trainer.nn.Sgd;
import dev.arat.trainer.nn.SplitBnNetwork;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Data-parallel training over several devices, one replica of the network per device, as PyTorch's
 * {@code DataParallel}: each step's batch is cut into contiguous shards (sizes differ by at most
 * one), replica {@code r} computes shard {@code r}'s adversarial examples and loss gradient in its
 * own thread, the gradients are summed into the primary network's (the first device) weighted by
 * shard size, so the update is the gradient of the whole batch's mean loss; the primary takes the
 * SGD step and its weights and BN running statistics are copied to every replica.
 *
 * <p>What differs from one device, on purpose and as in {@code DataParallel}: BatchNorm in train
 * mode normalises each shard with its own statistics, and the running statistics that survive are
 * the primary's (updated from shard 0). A last batch too small to give every replica two images
 * (BatchNorm needs two) uses fewer replicas. Random starts are per sample id, so the attack draws
 * the same start for a sample whichever shard it lands in. Everything else a run does besides the
 * step (auto-balance measurement, the gradient-conflict metric on the whole batch, evaluation, SWA,
 * checkpoints) runs on the primary, which the replicas equal between steps.
 *
 * <p>Threads: replicas run concurrently; gradients are recorded with {@link Autograd} (per-thread
 * gradient mode), since DJL's collector allows one per JVM. On a CPU the replicas compete for the
 * same cores ({@code device: cpu,cpu} exists to test this path, not to be faster).
 */
final class DataParallel implements AutoCloseable {
  private final SplitBnNetwork primary;
  private final List<NDManager> roots = new ArrayList<>();

  /** Every replica's network and objective, the primary's first. */
  private final List<SplitBnNetwork> networks = new ArrayList<>();

  private final List<Objective> objectives = new ArrayList<>();
  private final ExecutorService pool;

  /**
   * Builds one replica per device after the first and copies the primary's weights into each.
   *
   * @param recipe the recipe (method, attack, network options)
   * @param arch the architecture
   * @param primary the network on {@code devices.get(0)}
   * @param primaryObjective the primary's objective
   * @param devices every device, the primary's first; at least two
   */
  DataParallel(
      TrainingRecipe recipe,
      ArchitectureSpec arch,
      SplitBnNetwork primary,
      Objective primaryObjective,
      List<Device> devices) {
    if (devices.size() < 2) {
      throw new IllegalArgumentException("data parallelism needs at least two devices");
    }
    this.primary = primary;
    networks.add(primary);
    objectives.add(primaryObjective);
    this.pool =
        Executors.newFixedThreadPool(
            devices.size(),
            r -> {
              Thread t =
                  new Thread(
                      () -> {
                        Autograd.disableForThisThread();
                        r.run();
                      },
                      "arat-replica");
              t.setDaemon(true);
              return t;
            });
    try {
      for (Device d : devices.subList(1, devices.size())) {
        NDManager root = Devices.newManager(d);
        roots.add(root);
        SplitBnNetwork replica = Trainer.newNetwork(recipe, arch, root);
        networks.add(replica);
        objectives.add(new Objective(recipe, replica));
      }
      broadcast();
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  /** Number of replicas, the primary included. */
  int size() {
    return networks.size();
  }

  /** Copies the primary's weights and BN running statistics into every replica. */
  void broadcast() {
    for (SplitBnNetwork r : replicas()) {
      r.copyFrom(primary);
    }
  }

  private List<SplitBnNetwork> replicas() {
    return networks.subList(1, networks.size());
  }

  /**
   * How many replicas a batch of {@code n} images uses: all of them, or fewer when a shard would
   * hold fewer than two images.
   */
  int shardsFor(int n) {
    return Math.max(1, Math.min(size(), n / 2));
  }

  /**
   * Shard boundaries of a batch of {@code n} rows: shard {@code r} is rows {@code [b[r], b[r+1])}
   * (contiguous, sizes within one), for {@link #shardsFor}{@code (n)} shards.
   */
  int[] bounds(int n) {
    int shards = shardsFor(n);
    int[] b = new int[shards + 1];
    for (int r = 0; r <= shards; r++) {
      b[r] = (int) ((long) n * r / shards);
    }
    return b;
  }

  /**
   * Adversarial examples of a batch, each shard attacked on its replica in parallel (the primary
   * takes shard 0). Returns the whole adversarial batch in the batch's order.
   */
  ImageBatch adversarial(ImageBatch x, int[] labels, long[] ids, long seed) {
    int[] b = bounds(x.n());
    List<Callable<ImageBatch>> tasks = new ArrayList<>();
    for (int r = 0; r + 1 < b.length; r++) {
      int from = b[r];
      int to = b[r + 1];
      Objective o = objectives.get(r);
      tasks.add(
          () ->
              o.adversarial(
                  rows(x, from, to),
                  Arrays.copyOfRange(labels, from, to),
                  Arrays.copyOfRange(ids, from, to),
                  seed));
    }
    List<ImageBatch> parts = run(tasks);
    if (parts.size() == 1) {
      return parts.get(0);
    }
    float[] all = new float[x.data().length];
    for (int r = 0; r < parts.size(); r++) {
      float[] part = parts.get(r).data();
      System.arraycopy(part, 0, all, b[r] * x.imageSize(), part.length);
    }
    return x.with(all);
  }

  /**
   * One optimisation step: every replica back-propagates its shard's loss in parallel, the
   * gradients are combined into the primary's ({@code sum_r (n_r/N) g_r}), the primary takes the
   * SGD step and the replicas receive its weights.
   *
   * @return the step's losses, shard losses weighted by shard size, counts summed
   */
  Objective.StepLoss step(
      ImageBatch clean,
      ImageBatch adv,
      int[] labels,
      double wAdv,
      double wClean,
      Sgd sgd,
      double lr) {
    int[] b = bounds(clean.n());
    List<NDManager> stepManagers = new ArrayList<>();
    try {
      List<Callable<Objective.StepLoss>> tasks = new ArrayList<>();
      for (int r = 0; r + 1 < b.length; r++) {
        int from = b[r];
        int to = b[r + 1];
        NDManager m = networks.get(r).manager().newSubManager();
        stepManagers.add(m);
        Objective o = objectives.get(r);
        tasks.add(
            () ->
                o.backward(
                    m,
                    rows(clean, from, to),
                    rows(adv, from, to),
                    Arrays.copyOfRange(labels, from, to),
                    wAdv,
                    wClean,
                    Objective.allTerms()));
      }
      List<Objective.StepLoss> losses = run(tasks);
      sgd.step(lr, stepManagers.get(0), reduceGradients(b, stepManagers.get(0)));
      broadcast();
      return combine(losses);
    } finally {
      for (NDManager m : stepManagers) {
        m.close();
      }
    }
  }

  /**
   * {@code g = sum_r (n_r/N) g_r} for every trainable weight over the shards {@code b}, in {@code
   * step} on the primary's device (the replicas' gradients are moved there). A gradient a replica
   * did not produce counts as zero.
   */
  private Map<String, NDArray> reduceGradients(int[] b, NDManager step) {
    int shards = b.length - 1;
    float[] share = new float[shards];
    for (int r = 0; r < shards; r++) {
      share[r] = (float) ((b[r + 1] - b[r]) / (double) b[shards]);
    }
    Map<String, NDArray> out = new LinkedHashMap<>();
    Device device = primary.manager().getDevice();
    for (String name : primary.trainableNames()) {
      NDArray sum = null;
      for (int r = 0; r < shards; r++) {
        PtNDArray w = (PtNDArray) networks.get(r).parameters().get(name);
        try (NDArray g = JniUtils.getGradient(w)) {
          if (g == null) {
            continue;
          }
          try (NDArray moved = g.toDevice(device, false)) {
            NDArray part = moved.mul(share[r]); // a new array, in the primary's step manager below
            part.attach(step);
            if (sum == null) {
              sum = part;
            } else {
              sum.addi(part);
              part.close();
            }
          }
        }
      }
      out.put(name, sum != null ? sum : step.zeros(primary.parameters().get(name).getShape()));
    }
    return out;
  }

  private static Objective.StepLoss combine(List<Objective.StepLoss> losses) {
    if (losses.size() == 1) {
      return losses.get(0);
    }
    int n = 0;
    for (Objective.StepLoss l : losses) {
      n += l.n();
    }
    double total = 0;
    double ceAdv = 0;
    double ceClean = 0;
    double inv = 0;
    int correct = 0;
    int correctClean = 0;
    for (Objective.StepLoss l : losses) {
      double w = l.n() / (double) n;
      total += w * l.total();
      ceAdv += w * l.ceAdv();
      ceClean += w * l.ceClean();
      inv += w * l.invariance();
      correct += l.correct();
      correctClean += l.correctClean();
    }
    return new Objective.StepLoss(total, ceAdv, ceClean, inv, correct, correctClean, n);
  }

  /** Replica {@code r}; 0 is the primary. */
  SplitBnNetwork network(int r) {
    return networks.get(r);
  }

  /**
   * Runs the tasks on the replica threads and returns their results in order. Every task has
   * finished when this returns or throws (an interrupt of the calling thread is deferred until
   * then), so no replica is still using arrays the caller is about to free.
   */
  private <T> List<T> run(List<Callable<T>> tasks) {
    List<Future<T>> futures = new ArrayList<>();
    for (Callable<T> t : tasks) {
      futures.add(pool.submit(t));
    }
    boolean interrupted = false;
    List<T> out = new ArrayList<>();
    ExecutionException failure = null;
    for (Future<T> f : futures) {
      while (true) {
        try {
          out.add(f.get());
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        } catch (ExecutionException e) {
          failure = failure == null ? e : failure;
          break;
        }
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
    if (failure == null) {
      return out;
    }
    Throwable c = failure.getCause();
    if (c instanceof RuntimeException re) {
      throw re;
    }
    if (c instanceof Error err) {
      throw err;
    }
    throw new IllegalStateException("a replica failed: " + c, c);
  }

  /** Rows {@code [from, to)} of a batch (contiguous, so one array copy; {@code select} gathers). */
  private static ImageBatch rows(ImageBatch b, int from, int to) {
    int per = b.imageSize();
    return new ImageBatch(
        Arrays.copyOfRange(b.data(), from * per, to * per), to - from, b.c(), b.h(), b.w());
  }

  /** Frees the replicas (not the primary) and stops the worker threads. */
  @Override
  public void close() {
    if (pool != null) {
      pool.shutdown();
      try {
        if (!pool.awaitTermination(10, TimeUnit.MINUTES)) {
          pool.shutdownNow();
        }
      } catch (InterruptedException e) {
        pool.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
    for (SplitBnNetwork r : replicas()) {
      r.close();
    }
    for (NDManager m : roots) {
      m.close();
    }
  }
}
