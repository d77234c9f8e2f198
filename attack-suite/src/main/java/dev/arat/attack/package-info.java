/**
 * Attack maths in plain Java: the classifier interfaces attacks see ({@link
 * dev.arat.attack.Classifier}, {@link dev.arat.attack.GradientClassifier}), projections and norms
 * ({@link dev.arat.attack.Projections}), a reference of the loss heads ({@link
 * dev.arat.attack.LossHeads}), the attacks ({@link dev.arat.attack.Fgsm}, {@link
 * dev.arat.attack.Pgd}, and the AutoAttack family {@link dev.arat.attack.Apgd} (APGD-CE/DLR),
 * {@link dev.arat.attack.ApgdTargeted} (APGD-T), {@link dev.arat.attack.FabTargeted} (FAB-T) and
 * {@link dev.arat.attack.Square}, plus {@link dev.arat.attack.Transfer} and the EoT gradient
 * wrapper {@link dev.arat.attack.Eot}; all built from suite entries by {@link
 * dev.arat.attack.Attacks}) and the evaluation cascade ({@link dev.arat.attack.Cascade}). Depends
 * on {@code specs} only; never on DJL or ONNX Runtime. Engines plug in by implementing {@link
 * dev.arat.attack.GradientClassifier}.
 *
 * <p>Images are float32 NCHW in {@code [0,1]}; logits are {@code (N,K)}, never probabilities. Every
 * random draw for a sample comes from {@link dev.arat.attack.Seeds#forSample}{@code (attack seed,
 * sample id)}, so results do not depend on batch composition, order or sharding.
 */
package dev.arat.attack;
