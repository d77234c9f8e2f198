package dev.arat.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pins the exact bytes of a {@code metrics.jsonl} line. The expected lines are epochs 1 and 2 of an
 * ARAT run (conflict measurements, SWA, evaluation every second epoch) written by the trainer
 * before the line became a record: the record must reproduce them byte for byte.
 */
class EpochMetricsTest {
  private static final EpochMetrics.Conflict CONFLICT_1 =
      new EpochMetrics.Conflict(
          3,
          -0.01338544609370336,
          0.3627743253834957,
          11.08823849803232,
          1.0715318928753608,
          0.5169406624282225,
          0.19527138618295825,
          -0.6697907810705397,
          0.584505903283196,
          9.511444337);

  @Test
  void epochWithoutEvaluationLeavesTheAccuraciesOut() {
    EpochMetrics m =
        new EpochMetrics(
            1,
            3,
            5,
            "arat",
            0.05,
            4.40054178237915,
            3.1124717712402346,
            1.9093728542327881,
            1.9683385848999024,
            0.625,
            0.375,
            0.625,
            0.125,
            0.41875,
            160,
            0,
            CONFLICT_1,
            2,
            new EpochMetrics.Evaluation(0, Double.NaN, Double.NaN, Double.NaN, 2, null, null),
            new EpochMetrics.Resources(
                7.528412530379046,
                21.252820479,
                0.039876298,
                21.292705935,
                370.6875,
                388.0,
                41.19563293457031));
    assertEquals(
        "{\"epoch\":1,\"epochs\":3,\"global_step\":5,\"method\":\"arat\",\"lr\":0.05,"
            + "\"loss\":4.40054178237915,\"loss_ce_adv\":3.1124717712402346,"
            + "\"loss_ce_clean\":1.9093728542327881,\"loss_inv\":1.9683385848999024,\"w_adv\":0.625,"
            + "\"w_clean\":0.375,\"balance_accuracy\":0.625,\"train_accuracy\":0.125,"
            + "\"train_accuracy_clean_bn\":0.41875,\"train_images\":160,\"resumed_at_step\":0,"
            + "\"conflict_measurements\":3,\"grad_cosine\":-0.01338544609370336,"
            + "\"grad_conflict_ratio\":0.3627743253834957,\"grad_norm_cls\":11.08823849803232,"
            + "\"grad_norm_inv\":1.0715318928753608,\"grad_purifying_cosine\":0.5169406624282225,"
            + "\"grad_purifying_conflict_ratio\":0.19527138618295825,"
            + "\"grad_contaminating_cosine\":-0.6697907810705397,"
            + "\"grad_contaminating_conflict_ratio\":0.584505903283196,"
            + "\"conflict_seconds\":9.511444337,\"swa_snapshots\":2,\"eval_samples\":0,"
            + "\"pgd_steps\":2,\"images_per_second\":7.528412530379046,"
            + "\"train_seconds\":21.252820479,\"eval_seconds\":0.039876298,"
            + "\"epoch_seconds\":21.292705935,\"rss_mb\":370.6875,\"java_heap_committed_mb\":388.0,"
            + "\"java_heap_used_mb\":41.19563293457031}",
        m.toJson());
  }

  @Test
  void epochWithEvaluationWritesAccuraciesAndTheAttack(@TempDir Path dir) throws Exception {
    EpochMetrics m =
        new EpochMetrics(
            2,
            3,
            10,
            "arat",
            0.05,
            3.2134689331054687,
            1.8082741022109985,
            0.9829321220517159,
            1.5612107276916505,
            0.953125,
            0.046875,
            0.953125,
            0.6375,
            0.76875,
            160,
            0,
            new EpochMetrics.Conflict(
                2,
                -0.023559265461503828,
                0.22071704829619676,
                9.124299183268178,
                0.40425911250078317,
                0.4615771555624938,
                0.11343156328145411,
                -0.4923015948065981,
                0.3262360971149181,
                5.774354762),
            5,
            new EpochMetrics.Evaluation(40, 0.975, 0.975, 0.825, 2, 0.1, "Linf"),
            new EpochMetrics.Resources(
                6.997779804866835,
                22.864394774,
                2.132974856,
                24.997372956,
                447.34375,
                388.0,
                36.574058532714844));
    String expected =
        "{\"epoch\":2,\"epochs\":3,\"global_step\":10,\"method\":\"arat\","
            + "\"lr\":0.05,\"loss\":3.2134689331054687,\"loss_ce_adv\":1.8082741022109985,"
            + "\"loss_ce_clean\":0.9829321220517159,\"loss_inv\":1.5612107276916505,"
            + "\"w_adv\":0.953125,\"w_clean\":0.046875,\"balance_accuracy\":0.953125,"
            + "\"train_accuracy\":0.6375,\"train_accuracy_clean_bn\":0.76875,\"train_images\":160,"
            + "\"resumed_at_step\":0,\"conflict_measurements\":2,"
            + "\"grad_cosine\":-0.023559265461503828,\"grad_conflict_ratio\":0.22071704829619676,"
            + "\"grad_norm_cls\":9.124299183268178,\"grad_norm_inv\":0.40425911250078317,"
            + "\"grad_purifying_cosine\":0.4615771555624938,"
            + "\"grad_purifying_conflict_ratio\":0.11343156328145411,"
            + "\"grad_contaminating_cosine\":-0.4923015948065981,"
            + "\"grad_contaminating_conflict_ratio\":0.3262360971149181,"
            + "\"conflict_seconds\":5.774354762,\"swa_snapshots\":5,\"eval_samples\":40,"
            + "\"clean_accuracy_adv_bn\":0.975,\"clean_accuracy_clean_bn\":0.975,"
            + "\"pgd_accuracy\":0.825,\"pgd_steps\":2,\"pgd_epsilon\":0.1,\"pgd_norm\":\"Linf\","
            + "\"images_per_second\":6.997779804866835,\"train_seconds\":22.864394774,"
            + "\"eval_seconds\":2.132974856,\"epoch_seconds\":24.997372956,\"rss_mb\":447.34375,"
            + "\"java_heap_committed_mb\":388.0,\"java_heap_used_mb\":36.574058532714844}";
    assertEquals(expected, m.toJson());
    Path file = dir.resolve("metrics.jsonl");
    MetricsFiles.append(file, m);
    MetricsFiles.append(file, m);
    assertEquals(expected + "\n" + expected + "\n", Files.readString(file));
  }

  @Test
  void standardTrainingLeavesOutWhatItDoesNotMeasure() {
    EpochMetrics m =
        new EpochMetrics(
            1,
            1,
            4,
            "standard",
            Double.NaN,
            0.5,
            0.5,
            Double.NaN,
            Double.NaN,
            1.0,
            1.0,
            Double.NaN,
            0.75,
            Double.NaN,
            128,
            2,
            null,
            null,
            new EpochMetrics.Evaluation(0, Double.NaN, Double.NaN, Double.NaN, 10, null, null),
            new EpochMetrics.Resources(100.0, 1.25, 0.0, 1.25, Double.NaN, 64.0, 32.5));
    assertEquals(
        "{\"epoch\":1,\"epochs\":1,\"global_step\":4,\"method\":\"standard\","
            + "\"loss\":0.5,\"loss_ce_adv\":0.5,\"w_adv\":1.0,\"w_clean\":1.0,\"train_accuracy\":0.75,"
            + "\"train_images\":128,\"resumed_at_step\":2,\"eval_samples\":0,\"pgd_steps\":10,"
            + "\"images_per_second\":100.0,\"train_seconds\":1.25,\"eval_seconds\":0.0,"
            + "\"epoch_seconds\":1.25,\"java_heap_committed_mb\":64.0,\"java_heap_used_mb\":32.5}",
        m.toJson());
  }
}
