package dev.arat.evaluator.report;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class WilsonTest {
  @Test
  void matchesHandComputedValues() {
    // 8/10: p=.8, z^2=3.8415, centre=(.8+.19208)/1.38415=.71674,
    // half=1.96*sqrt(.016+.009604)/1.38415=.22658
    Wilson.Interval a = Wilson.interval95(8, 10);
    assertEquals(0.4902, a.low(), 1e-4);
    assertEquals(0.9433, a.high(), 1e-4);
    // 0/10: [0, z^2/(n+z^2)] = [0, 3.8415/13.8415]
    Wilson.Interval b = Wilson.interval95(0, 10);
    assertEquals(0.0, b.low(), 1e-12);
    assertEquals(0.2775, b.high(), 1e-4);
    // 50/100: .5 +- 1.96*sqrt(.0025+.00009604)/1.038415
    Wilson.Interval c = Wilson.interval95(50, 100);
    assertEquals(0.4038, c.low(), 1e-4);
    assertEquals(0.5962, c.high(), 1e-4);
    // 10/10 mirrors 0/10
    Wilson.Interval d = Wilson.interval95(10, 10);
    assertEquals(1 - 0.2775, d.low(), 1e-4);
    assertEquals(1.0, d.high(), 1e-12);
  }
}
