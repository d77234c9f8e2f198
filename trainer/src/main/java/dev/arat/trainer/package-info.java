/**
 * Training of robust image classifiers with DJL (PyTorch engine): {@link dev.arat.trainer.Trainer}
 * runs standard training, PGD-AT, TRADES or ARAT (optionally with SWA, {@link
 * dev.arat.trainer.SwaAverage}) from a recipe, writes metrics ({@code metrics.jsonl}, {@code
 * metrics.csv}, {@code training.png}, {@code conflict.jsonl}) and engine-neutral checkpoints and
 * resumes exactly; {@link dev.arat.trainer.Objective} holds the losses and the gradient-conflict
 * metric; {@link dev.arat.trainer.KlAttack} is TRADES' KL attack; {@link dev.arat.trainer.Devices}
 * chooses the device; {@link dev.arat.trainer.TrainedNetwork} loads a checkpoint's deployed model
 * (adversarial BN set, eval mode) for parity checks. See {@code trainer/README.md}.
 */
package dev.arat.trainer;
