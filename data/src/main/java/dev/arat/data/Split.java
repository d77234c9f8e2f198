package dev.arat.data;

/** Which part of a dataset. */
public enum Split {
  /** The training images. */
  TRAIN,
  /** The held-out test images. */
  TEST
}
