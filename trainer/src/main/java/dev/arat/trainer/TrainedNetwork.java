package dev.arat.trainer;

import ai.djl.ndarray.NDManager;
import dev.arat.attack.GradientClassifier;
import dev.arat.attack.ImageBatch;
import dev.arat.attack.LossGradient;
import dev.arat.specs.Checkpoint;
import dev.arat.specs.LossHead;
import dev.arat.specs.Tensor;
import dev.arat.trainer.nn.NetworkClassifier;
import dev.arat.trainer.nn.SplitBnNetwork;
import dev.arat.trainer.nn.SplitBnNetwork.Branch;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A trained network loaded from a {@link Checkpoint} with DJL, for the exporter's parity check and
 * for cross-checking ONNX gradient graphs.
 *
 * <p>Mode: by default the <b>adversarial BN set in eval mode</b> (BN uses the running statistics),
 * i.e. the deployed model of ARAT-METHOD Decision 4. The clean BN set (eval mode) can be chosen for
 * analysis; it is not the deployed model. Predictor weights in the checkpoint are ignored. Nothing
 * in the network changes when it is queried.
 */
public final class TrainedNetwork implements GradientClassifier, AutoCloseable {
  private final NDManager manager;
  private final SplitBnNetwork net;
  private final NetworkClassifier model;

  /**
   * Loads the deployed model (adversarial BN set, eval mode) of a checkpoint.
   *
   * @param checkpoint the checkpoint
   */
  public TrainedNetwork(Checkpoint checkpoint) {
    this(checkpoint, Branch.ADV);
  }

  /**
   * Loads a checkpoint with the given BN set, in eval mode.
   *
   * @param checkpoint the checkpoint
   * @param branch {@link Branch#ADV} (deployed) or {@link Branch#CLEAN} (analysis only; only for
   *     split-BN checkpoints)
   * @throws IllegalArgumentException when the weights do not fit the checkpoint's architecture or
   *     the clean set is asked of a checkpoint without one
   */
  public TrainedNetwork(Checkpoint checkpoint, Branch branch) {
    Map<String, Tensor> weights = new LinkedHashMap<>();
    boolean split = false;
    for (Map.Entry<String, Tensor> e : checkpoint.weights().entrySet()) {
      if (e.getKey().startsWith("predictor.")) {
        continue;
      }
      split |= e.getKey().contains(".clean.");
      weights.put(e.getKey(), e.getValue());
    }
    if (branch == Branch.CLEAN && !split) {
      throw new IllegalArgumentException("the checkpoint has no clean BN set (not split-BN)");
    }
    this.manager = NDManager.newBaseManager();
    try {
      this.net =
          new SplitBnNetwork(
              checkpoint.architecture(), split, List.of(), 0, checkpoint.recipe().seed(), manager);
      net.load(weights);
      net.setTrainable(false);
    } catch (RuntimeException e) {
      manager.close();
      throw e;
    }
    this.model = new NetworkClassifier(net, branch, false);
  }

  /** Loads the deployed model from a checkpoint folder (or a run folder's latest checkpoint). */
  public static TrainedNetwork load(Path checkpointDir) {
    return new TrainedNetwork(Checkpoint.read(checkpointDir));
  }

  /** The BN set used. */
  public Branch branch() {
    return model.branch();
  }

  @Override
  public int numClasses() {
    return model.numClasses();
  }

  /**
   * Logits of the chosen BN set in eval mode.
   *
   * @param x images {@code (N,C,H,W)} in {@code [0,1]}
   * @return {@code (N,K)} logits
   */
  @Override
  public float[] logits(ImageBatch x) {
    return model.logits(x);
  }

  /**
   * Logits, per-sample loss-head values and the input gradient of their sum, in eval mode (any head
   * of {@code dev.arat.attack.LossHeads}; CE is the one the ONNX gradient graph is checked with).
   */
  @Override
  public LossGradient lossGradient(ImageBatch x, int[] labels, int[] targets, LossHead head) {
    return model.lossGradient(x, labels, targets, head);
  }

  /** Frees the native memory. */
  @Override
  public void close() {
    manager.close();
  }
}
