/**
 * Checkpoint to ONNX: keeps the adversarial-BN path, folds BN into the preceding conv/linear layer,
 * bakes the input normalisation in, writes provenance into {@code metadata_props}, and checks
 * parity between the checkpoint's network and the exported file.
 */
package dev.arat.exporter;
