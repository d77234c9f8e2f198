package dev.arat.trainer;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import java.util.Locale;

/**
 * The one place where the trainer chooses its compute device (recipe key {@code device}).
 *
 * <ul>
 *   <li>{@code auto}: the first GPU when DJL's engine reports at least one ({@link
 *       Engine#getGpuCount}), else the CPU.
 *   <li>{@code cpu}: the CPU.
 *   <li>{@code gpu} (= {@code gpu:0}) or {@code gpu:N}: that GPU; if the engine reports fewer GPUs
 *       (for example the CPU-only PyTorch native library this project ships) it is an error, never
 *       a silent CPU run.
 * </ul>
 *
 * <p>Every array of a run lives on the chosen device: the trainer's root {@link NDManager} is
 * created with it, the network's manager is its child and each step's arrays are created in a
 * sub-manager of the network's, so they inherit the device. Attacks move batches between Java
 * arrays and the device once per iteration.
 *
 * <p>Several GPUs: not supported. A run uses exactly one device. DJL's own multi-device path is
 * its {@code Trainer} with {@code setDevices(...)} and {@code Batch.split}, which splits each batch
 * across devices and sums the gradients; this trainer does not use DJL's {@code Trainer} (its
 * weights are named arrays, see {@code SplitBnNetwork}), and splitting a batch would also change
 * split-BN batch statistics (per-device statistics, as PyTorch DataParallel). None of the GPU
 * paths can be exercised on this project's CPU-only build machines; they are tested only for the
 * error on a GPU request.
 */
public final class Devices {
  private Devices() {}

  /**
   * Resolves a device setting against the engine.
   *
   * @param setting {@code auto}, {@code cpu}, {@code gpu} or {@code gpu:N}
   * @return the device
   * @throws IllegalStateException when a GPU is requested that the engine does not have
   * @throws IllegalArgumentException for a malformed setting
   */
  public static Device resolve(String setting) {
    return resolve(setting, Engine.getInstance().getGpuCount());
  }

  /** {@link #resolve(String)} with the number of GPUs given (for tests). */
  static Device resolve(String setting, int gpuCount) {
    String s = setting == null ? "auto" : setting.trim().toLowerCase(Locale.ROOT);
    if ("auto".equals(s)) {
      return gpuCount > 0 ? Device.gpu(0) : Device.cpu();
    }
    if ("cpu".equals(s)) {
      return Device.cpu();
    }
    int id;
    if ("gpu".equals(s)) {
      id = 0;
    } else if (s.matches("gpu:\\d{1,3}")) {
      id = Integer.parseInt(s.substring(4));
    } else {
      throw new IllegalArgumentException("device: must be auto, cpu, gpu or gpu:N, was '" + setting
          + "'");
    }
    if (id >= gpuCount) {
      throw new IllegalStateException("device " + s + " was requested but the "
          + Engine.getDefaultEngineName() + " engine reports " + gpuCount + " GPU(s)"
          + (gpuCount == 0 ? " (a CPU-only native library, or no CUDA device visible)" : "")
          + "; use device: cpu or auto to train on the CPU");
    }
    return Device.gpu(id);
  }

  /** A root manager on a device. */
  public static NDManager newManager(Device device) {
    return NDManager.newBaseManager(device);
  }
}
