package dev.arat.specs;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Locale;

/** The norm of a perturbation budget. */
public enum Norm {
  /** L-infinity: every pixel moves by at most epsilon. */
  LINF("Linf"),
  /** L2: the Euclidean norm of the whole perturbation of one image is at most epsilon. */
  L2("L2");

  private final String id;

  Norm(String id) {
    this.id = id;
  }

  /** The name used in YAML and reports: {@code Linf} or {@code L2}. */
  @JsonValue
  public String id() {
    return id;
  }

  /** Parses {@code Linf}, {@code linf}, {@code inf}, {@code L2}, {@code 2} (case-insensitive). */
  @JsonCreator
  public static Norm fromId(String text) {
    String t = text.trim().toLowerCase(Locale.ROOT);
    switch (t) {
      case "linf":
      case "inf":
      case "l-inf":
        return LINF;
      case "l2":
      case "2":
        return L2;
      default:
        throw new IllegalArgumentException("unknown norm '" + text + "', expected Linf or L2");
    }
  }

  @Override
  public String toString() {
    return id;
  }
}
