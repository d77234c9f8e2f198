package dev.arat.evaluator.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arat.attack.CascadeResult;
import dev.arat.attack.Fgsm;
import dev.arat.specs.LossHead;
import dev.arat.specs.Norm;
import dev.arat.specs.ThreatModel;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ProgressTest {
  static String drive(boolean interactive) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    Progress p =
        new Progress(new PrintStream(bytes, true, StandardCharsets.UTF_8), interactive, 10);
    Fgsm a = new Fgsm(new ThreatModel(Norm.LINF, 0.1), LossHead.CE);
    p.cleanDone(9, 10);
    p.attackStarted(0, a, 9);
    p.progress(0, 4, 9);
    p.progress(0, 9, 9);
    p.attackFinished(
        0,
        new CascadeResult.AttackStats(
            0, a.name(), Map.of(), 9, 3, 0, 0, 6, 1.5, dev.arat.attack.ModelCalls.NONE, false));
    return bytes.toString(StandardCharsets.UTF_8);
  }

  @Test
  void terminalRewritesOneLineWithRateAndEta() {
    String out = drive(true);
    assertTrue(out.contains("\r[1] fgsm-ce: 4/9"), out);
    assertTrue(out.contains("samples/s") && out.contains("ETA"), out);
    assertTrue(out.contains("robust 6/10 (60.00%)"), out);
  }

  @Test
  void logsGetOneLinePerAttack() {
    String out = drive(false);
    assertFalse(out.contains("\r"), out);
    assertEquals(2, out.lines().count(), out);
    assertTrue(out.contains("[1] fgsm-ce: broke 3 of 9, robust 6/10 (60.00%) in 1.5s"), out);
  }
}
