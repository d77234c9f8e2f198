/**
 * Attack maths in plain Java: the classifier interfaces attacks see, projections, attacks and the
 * evaluation cascade. Depends on {@code specs} only; never on DJL or ONNX Runtime. Engines plug in
 * by implementing {@link dev.arat.attack.GradientClassifier}.
 */
package dev.arat.attack;
