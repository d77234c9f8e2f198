/**
 * Training of robust image classifiers with DJL (PyTorch engine): {@link dev.arat.trainer.Trainer}
 * runs standard training, PGD-AT or ARAT from a recipe, writes metrics and engine-neutral
 * checkpoints and resumes exactly; {@link dev.arat.trainer.Objective} holds the losses; {@link
 * dev.arat.trainer.TrainedNetwork} loads a checkpoint's deployed model (adversarial BN set, eval
 * mode) for parity checks.
 */
package dev.arat.trainer;
