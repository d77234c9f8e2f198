package dev.arat.trainer;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The one place where the trainer chooses its compute devices (recipe key {@code device}).
 *
 * <ul>
 *   <li>{@code auto}: the first GPU when DJL's engine reports at least one ({@link
 *       Engine#getGpuCount}), else the CPU.
 *   <li>{@code cpu}: the CPU.
 *   <li>{@code gpu} (= {@code gpu:0}) or {@code gpu:N}: that GPU; if the engine reports fewer GPUs
 *       (for example the CPU-only PyTorch native library this project ships) it is an error, never
 *       a silent CPU run.
 *   <li>Several devices, for data-parallel training with one replica per device (see {@code
 *       DataParallel}): a comma-separated list of the above ({@code gpu:0,gpu:1}; a bare number
 *       after a GPU item is another GPU, {@code gpu:0,1}), or {@code gpu:all} for every GPU the
 *       engine reports. A GPU may be listed once; {@code cpu} may repeat ({@code cpu,cpu}: two
 *       replicas on the CPU, which is how the multi-device path is tested without GPUs).
 * </ul>
 *
 * <p>Every array of a replica lives on its device: its root {@link NDManager} is created with it,
 * the network's manager is its child and each step's arrays are created in a sub-manager of the
 * network's, so they inherit the device. Attacks move batches between Java arrays and the device
 * once per iteration. The GPU paths cannot be exercised on this project's CPU-only build machines;
 * they are tested for the errors on GPU requests, and the multi-device logic runs on CPU replicas.
 */
public final class Devices {
  private Devices() {}

  /**
   * Resolves a single-device setting against the engine.
   *
   * @param setting {@code auto}, {@code cpu}, {@code gpu} or {@code gpu:N}
   * @return the device
   * @throws IllegalStateException when a GPU is requested that the engine does not have
   * @throws IllegalArgumentException for a malformed setting or a list of several devices
   */
  public static Device resolve(String setting) {
    return resolve(setting, Engine.getInstance().getGpuCount());
  }

  /** {@link #resolve(String)} with the number of GPUs given (for tests). */
  static Device resolve(String setting, int gpuCount) {
    List<Device> all = resolveAll(setting, gpuCount);
    if (all.size() != 1) {
      throw new IllegalArgumentException(
          "device: expected one device, '" + setting + "' names " + all.size());
    }
    return all.get(0);
  }

  /**
   * Resolves a device setting, possibly a list, against the engine.
   *
   * @return the devices, one data-parallel replica each, in order (the first holds the primary
   *     network: optimizer, evaluation, checkpoints)
   * @throws IllegalStateException when a GPU is requested that the engine does not have
   * @throws IllegalArgumentException for a malformed setting or a GPU listed twice
   */
  public static List<Device> resolveAll(String setting) {
    return resolveAll(setting, Engine.getInstance().getGpuCount());
  }

  /** {@link #resolveAll(String)} with the number of GPUs given (for tests). */
  static List<Device> resolveAll(String setting, int gpuCount) {
    String s = setting == null ? "auto" : setting.trim().toLowerCase(Locale.ROOT).replace(" ", "");
    if ("auto".equals(s)) {
      return List.of(gpuCount > 0 ? Device.gpu(0) : Device.cpu());
    }
    if ("gpu:all".equals(s)) {
      if (gpuCount == 0) {
        throw noGpu(s, 0, gpuCount);
      }
      List<Device> all = new ArrayList<>();
      for (int i = 0; i < gpuCount; i++) {
        all.add(Device.gpu(i));
      }
      return all;
    }
    List<Device> out = new ArrayList<>();
    Set<Integer> gpus = new HashSet<>();
    boolean afterGpu = false;
    for (String item : s.split(",", -1)) {
      int id;
      if ("cpu".equals(item)) {
        out.add(Device.cpu());
        afterGpu = false;
        continue;
      } else if ("gpu".equals(item)) {
        id = 0;
      } else if (item.matches("gpu:\\d{1,3}")) {
        id = Integer.parseInt(item.substring(4));
      } else if (afterGpu && item.matches("\\d{1,3}")) {
        id = Integer.parseInt(item);
      } else {
        throw new IllegalArgumentException(
            "device: must be auto, cpu, gpu, gpu:N, gpu:all or a "
                + "comma-separated list such as gpu:0,gpu:1 (short gpu:0,1), was '"
                + setting
                + "'");
      }
      if (!gpus.add(id)) {
        throw new IllegalArgumentException(
            "device: gpu:" + id + " is listed twice in '" + setting + "'");
      }
      if (id >= gpuCount) {
        throw noGpu(s, id, gpuCount);
      }
      out.add(Device.gpu(id));
      afterGpu = true;
    }
    return List.copyOf(out);
  }

  private static IllegalStateException noGpu(String s, int id, int gpuCount) {
    return new IllegalStateException(
        "device "
            + s
            + " was requested but the "
            + Engine.getDefaultEngineName()
            + " engine reports "
            + gpuCount
            + " GPU(s)"
            + (gpuCount == 0 ? " (a CPU-only native library, or no CUDA device visible)" : "")
            + "; use device: cpu or auto to train on the CPU");
  }

  /** A root manager on a device. */
  public static NDManager newManager(Device device) {
    return NDManager.newBaseManager(device);
  }
}
