package dev.arat.attack;

/**
 * What one gradient call returns.
 *
 * @param logits float32 {@code (N,K)} logits at the queried images
 * @param losses float32 {@code (N)} per-sample values of the loss head (to be maximised)
 * @param gradient float32 {@code (N,C,H,W)} gradient of the sum of {@code losses} w.r.t. the images
 */
public record LossGradient(float[] logits, float[] losses, float[] gradient) {}
