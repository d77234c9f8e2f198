package dev.arat.specs;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class AratVersionTest {
  @Test
  void versionIsTheFilteredProjectVersion() {
    // an unfiltered resource would read "${project.version}"
    assertTrue(
        AratVersion.VERSION.matches("\\d+\\.\\d+\\.\\d+(-[A-Za-z0-9.]+)?"), AratVersion.VERSION);
  }
}
