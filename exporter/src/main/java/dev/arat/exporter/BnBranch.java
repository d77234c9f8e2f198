package dev.arat.exporter;

/**
 * Which BatchNorm branch of a split-BN network an export keeps. ARAT's deployed model is the
 * adversarial branch (ARAT-METHOD.md decision 4); the clean branch is for analysis only and is
 * labelled as such in the model's metadata.
 */
public enum BnBranch {
  /** The adversarial BN branch: the deployed model whose accuracies the paper reports. */
  ADV("adv"),
  /** The clean (auxiliary) BN branch: analysis only, never the deployed model. */
  CLEAN("clean");

  private final String key;

  BnBranch(String key) {
    this.key = key;
  }

  /** The branch's key in weight names ({@code bn1.adv.weight}). */
  public String key() {
    return key;
  }
}
