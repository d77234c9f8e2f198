package dev.arat.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.arat.evaluator.run.SuiteRunner;
import dev.arat.specs.AratVersion;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/** {@code --version}, exported models and reports name one version: the Maven project's. */
class VersionTest {
  @Test
  void versionOptionReportsAndExportsAgree() {
    StringWriter out = new StringWriter();
    var cl = Arat.commandLine();
    cl.setOut(new PrintWriter(out));
    assertEquals(0, cl.execute("--version"));
    assertEquals("arat " + AratVersion.VERSION, out.toString().lines().findFirst().orElseThrow());
    assertEquals(AratVersion.VERSION, Versions.ARAT);
    assertEquals(AratVersion.VERSION, SuiteRunner.TOOL_VERSION);
  }
}
