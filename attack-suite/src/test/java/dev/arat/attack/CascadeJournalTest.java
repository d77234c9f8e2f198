package dev.arat.attack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.specs.LossHead;
import dev.arat.specs.Norm;
import dev.arat.specs.ThreatModel;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A cascade replayed from its journal equals the run that wrote it, without calling any model. */
class CascadeJournalTest {
  /** A journal in memory. */
  static final class Memory implements CascadeJournal {
    final Map<Long, Clean> clean = new HashMap<>();
    final Map<Integer, Map<Long, Attempt>> attempts = new HashMap<>();
    int batches;

    @Override
    public Clean clean(long id) {
      return clean.get(id);
    }

    @Override
    public Attempt attempt(int a, long id) {
      return attempts.getOrDefault(a, Map.of()).get(id);
    }

    @Override
    public void recordClean(List<Clean> batch, double seconds) {
      batch.forEach(c -> clean.put(c.sampleId(), c));
      batches++;
    }

    @Override
    public void recordAttempts(int a, List<Attempt> batch, Spent spent) {
      batch.forEach(r -> attempts.computeIfAbsent(a, k -> new HashMap<>()).put(r.sampleId(), r));
      batches++;
    }
  }

  /** Refuses every call: proves that a complete journal needs no model. */
  static final class NoModel implements GradientClassifier {
    final int k;

    NoModel(int k) {
      this.k = k;
    }

    @Override
    public int numClasses() {
      return k;
    }

    @Override
    public float[] logits(ImageBatch x) {
      throw new AssertionError("model called during a replay");
    }

    @Override
    public LossGradient lossGradient(ImageBatch x, int[] labels, int[] targets, LossHead head) {
      throw new AssertionError("model called during a replay");
    }
  }

  @Test
  void replayEqualsTheRecordedRunAndPartialJournalsResume() {
    ThreatModel t = new ThreatModel(Norm.LINF, 0.3);
    LinearClassifier m = LinearClassifier.random(3, 4, 16, 1.0);
    ImageBatch x = Fixtures.images(5, 30, 4, 4, 0.2, 0.8);
    int[] y = Classifier.argmax(m.logits(x), 4);
    y[0] = (y[0] + 1) % 4; // one clean-misclassified sample
    long[] ids = Fixtures.ids(30, 100);
    List<Attack> attacks =
        List.of(new Fgsm(t, LossHead.CE), new Pgd(t, 5, 0.1, 1, LossHead.MARGIN, true, 9));
    Cascade c = new Cascade(t, attacks, 7);
    CascadeResult plain = c.run(m, m, x, y, ids, null);

    Memory j = new Memory();
    CascadeResult recorded = c.run(m, m, x, y, ids, null, j);
    assertEquals(plain.samples(), recorded.samples());
    assertTrue(j.batches > 0);
    CascadeResult replayed = c.run(new NoModel(4), new NoModel(4), x, y, ids, null, j);
    assertEquals(plain.samples(), replayed.samples());
    assertEquals(plain.violations(), replayed.violations());
    for (int a = 0; a < 2; a++) {
      CascadeResult.AttackStats p = plain.attacks().get(a);
      CascadeResult.AttackStats r = replayed.attacks().get(a);
      assertEquals(
          List.of(p.attempted(), p.successes(), p.unconfirmed(), p.violations(), p.robustAfter()),
          List.of(r.attempted(), r.successes(), r.unconfirmed(), r.violations(), r.robustAfter()));
    }

    // drop the second attack and half of the first: a resume recomputes only what is missing
    j.attempts.remove(1);
    j.attempts.get(0).keySet().removeIf(id -> id % 2 == 0);
    Memory fresh = new Memory();
    CascadeResult resumed =
        c.run(
            m,
            m,
            x,
            y,
            ids,
            null,
            new CascadeJournal() {
              @Override
              public Clean clean(long id) {
                return j.clean(id);
              }

              @Override
              public Attempt attempt(int a, long id) {
                return j.attempt(a, id);
              }

              @Override
              public void recordClean(List<Clean> batch, double s) {
                throw new AssertionError("clean pass was recorded");
              }

              @Override
              public void recordAttempts(int a, List<Attempt> batch, Spent s) {
                fresh.recordAttempts(a, batch, s);
              }
            });
    assertEquals(plain.samples(), resumed.samples());
    assertTrue(fresh.attempts.get(0).keySet().stream().allMatch(id -> id % 2 == 0));
  }

  @Test
  void aJournalWithAnotherLabelIsRejected() {
    ThreatModel t = new ThreatModel(Norm.LINF, 0.3);
    LinearClassifier m = LinearClassifier.random(3, 4, 16, 1.0);
    ImageBatch x = Fixtures.images(5, 4, 4, 4, 0.2, 0.8);
    int[] y = {0, 1, 2, 3};
    long[] ids = Fixtures.ids(4, 0);
    Memory j = new Memory();
    Cascade c = new Cascade(t, List.of(new Fgsm(t, LossHead.CE)), 2);
    c.run(m, m, x, y, ids, null, j);
    int[] other = {1, 1, 2, 3};
    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> c.run(m, m, x, other, ids, null, j));
    assertTrue(e.getMessage().contains("label"), e.getMessage());
  }
}
