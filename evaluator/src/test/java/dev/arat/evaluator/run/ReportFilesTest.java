package dev.arat.evaluator.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arat.evaluator.Fixtures;
import dev.arat.evaluator.checks.Diagnostic;
import dev.arat.evaluator.report.Plots;
import dev.arat.evaluator.report.Report;
import dev.arat.evaluator.report.ReportFiles;
import dev.arat.specs.EvaluationSuite;
import dev.arat.specs.Specs;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/** report.json (schema 2, reads schema 1), report.md, junit.xml and the PNG plots. */
class ReportFilesTest {
  static final String SUITE =
      String.join(
          "\n",
          "name: files <&> \"quoted\"",
          "data: {dataset: synthetic}",
          "samples: 30",
          "seed: 7",
          "batch_size: 15",
          "threat_model: {norm: Linf, epsilon: 0.12}",
          "epsilon_sweep: [0.05, 0.2]",
          "attacks: [{type: fgsm}]",
          "gates: {min_clean_accuracy: 0.5, min_robust_accuracy: 0.99, max_robust_drop: 0.1}",
          "");

  static Report report() {
    return LedgerTest.runJava(
        Specs.parse(SUITE, EvaluationSuite.class, "files.yaml"),
        Fixtures.java(Fixtures.syntheticNearestMean()),
        null,
        false);
  }

  @Test
  void junitXmlHasOneTestCasePerGatePlusTrust(@TempDir Path dir) throws Exception {
    Report r = report();
    List<Path> files = ReportFiles.writeAll(r, dir);
    assertEquals(
        List.of("report.json", "report.md", "junit.xml", Plots.EPSILON_FILE, Plots.CLASS_FILE),
        files.stream().map(p -> p.getFileName().toString()).toList());
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
    Document doc = f.newDocumentBuilder().parse(dir.resolve("junit.xml").toFile());
    Element root = doc.getDocumentElement();
    assertEquals("testsuites", root.getTagName());
    NodeList suites = root.getElementsByTagName("testsuite");
    assertEquals(1, suites.getLength());
    Element suite = (Element) suites.item(0);
    assertEquals("arat." + r.suite().name(), suite.getAttribute("name"));
    NodeList cases = suite.getElementsByTagName("testcase");
    assertEquals(1 + r.gates().size(), cases.getLength());
    assertEquals(String.valueOf(cases.getLength()), suite.getAttribute("tests"));
    List<String> names = new ArrayList<>();
    int failures = 0;
    int skipped = 0;
    for (int i = 0; i < cases.getLength(); i++) {
      Element tc = (Element) cases.item(i);
      names.add(tc.getAttribute("name"));
      assertEquals("arat.gates", tc.getAttribute("classname"));
      // getAttribute gives "" for a missing attribute, never null: the time must be seconds
      assertTrue(Double.parseDouble(tc.getAttribute("time")) >= 0, tc.getAttribute("time"));
      failures += tc.getElementsByTagName("failure").getLength();
      skipped += tc.getElementsByTagName("skipped").getLength();
    }
    assertEquals(
        List.of("trusted", "min_clean_accuracy", "min_robust_accuracy", "max_robust_drop"), names);
    assertEquals(1, failures, "only min_robust_accuracy fails");
    assertEquals(1, skipped, "max_robust_drop has no baseline");
    assertEquals(String.valueOf(failures), suite.getAttribute("failures"));
    assertEquals(String.valueOf(skipped), suite.getAttribute("skipped"));
    Element failure = (Element) ((Element) cases.item(2)).getElementsByTagName("failure").item(0);
    assertTrue(
        failure.getAttribute("message").startsWith("min_robust_accuracy: "),
        failure.getAttribute("message"));
    assertTrue(
        failure.getAttribute("message").contains(" < 99.00%"), failure.getAttribute("message"));
    Element props = (Element) suite.getElementsByTagName("properties").item(0);
    assertTrue(props.getElementsByTagName("property").getLength() >= 5);

    for (String png : List.of(Plots.EPSILON_FILE, Plots.CLASS_FILE)) {
      BufferedImage img = ImageIO.read(dir.resolve(png).toFile());
      assertNotNull(img, png);
      assertTrue(img.getWidth() >= 600 && img.getHeight() >= 400, png);
    }
    String md = Files.readString(dir.resolve("report.md"));
    assertTrue(md.contains("### Epsilon sweep") && md.contains("| 0.2 |"), md);
    assertTrue(md.contains("Per class") && md.contains("⏭️ skipped") && md.contains("❌"), md);
  }

  @Test
  void anUntrustedReportFailsTheTrustCase() throws Exception {
    Report r = report();
    List<Diagnostic> d =
        List.of(Diagnostic.Code.BUDGET_VIOLATION.of("2 candidate(s) broke <the> budget"));
    Report bad =
        new Report(
            r.schemaVersion(),
            r.tool(),
            r.model(),
            r.suite(),
            r.dataset(),
            r.shard(),
            r.samples(),
            r.sampleIndices(),
            r.seed(),
            r.threatModel(),
            r.cleanCorrect(),
            r.cleanAccuracy(),
            r.cleanAccuracyCi95(),
            r.robustCount(),
            r.robustAccuracy(),
            r.robustAccuracyCi95(),
            r.attacks(),
            r.violations(),
            r.maxPerturbation(),
            r.perSample(),
            r.perClass(),
            r.sweep(),
            r.baseline(),
            List.of(),
            false,
            false,
            d.stream().map(Diagnostic::line).toList(),
            d,
            r.durationSeconds());
    String xml = ReportFiles.toJUnit(bad);
    Document doc =
        DocumentBuilderFactory.newInstance()
            .newDocumentBuilder()
            .parse(new ByteArrayInputStream(xml.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    Element tc = (Element) doc.getElementsByTagName("testcase").item(0);
    assertEquals("trusted", tc.getAttribute("name"));
    Element f = (Element) tc.getElementsByTagName("failure").item(0);
    assertTrue(
        f.getTextContent()
            .contains("ARAT-D006 [fatal] budget-violation: 2 candidate(s) broke <the> budget"),
        f.getTextContent());
    assertTrue(ReportFiles.toMarkdown(bad).contains("⛔ **ARAT-D006**"));
  }

  @Test
  void schemaTwoRoundTripsAndSchemaOneStillReads() throws Exception {
    Report r = report();
    String json = ReportFiles.toJson(r);
    JsonNode tree = Specs.json().readTree(json);
    assertEquals(2, tree.get("schema_version").asInt());
    for (String f : List.of("per_class", "sweep", "gates", "diagnostics", "diagnostic_records")) {
      assertTrue(tree.has(f), f);
    }
    assertEquals("min", tree.get("gates").get(0).get("comparison").asText());
    Report back = ReportFiles.readJson(json);
    assertEquals(json, ReportFiles.toJson(back));

    ObjectNode v1 = (ObjectNode) tree.deepCopy();
    v1.put("schema_version", 1);
    v1.remove(List.of("shard", "per_class", "sweep", "baseline", "diagnostic_records"));
    ((ObjectNode) v1.get("tool")).remove("execution_provider");
    ((ObjectNode) v1.get("suite").get("settings")).remove(List.of("epsilon_sweep", "checks"));
    for (JsonNode g : v1.get("gates")) {
      ((ObjectNode) g).remove(List.of("comparison", "bound", "skipped", "detail"));
    }
    ((ObjectNode) v1.get("suite").get("settings").get("gates")).remove("max_robust_drop");
    Report old = ReportFiles.readJson(Specs.json().writeValueAsString(v1));
    assertEquals(r.perSample(), old.perSample());
    assertTrue(old.perClass().isEmpty());
  }

  @Test
  void galleryIsAPng(@TempDir Path dir) throws Exception {
    float[][] a = {new float[28 * 28], new float[28 * 28]};
    float[][] b = {new float[28 * 28], new float[28 * 28]};
    b[0][5] = 0.1f;
    byte[] png =
        Gallery.render(a, b, new String[] {"#1: 3->5", "#2: 1->7"}, 1, 28, 28, "Linf eps=0.1");
    BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
    assertTrue(img.getWidth() > 2 * 96 && img.getHeight() > 3 * 28);
  }
}
