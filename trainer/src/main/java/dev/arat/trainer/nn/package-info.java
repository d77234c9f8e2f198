/**
 * The DJL side of the trainer: {@link dev.arat.trainer.nn.SplitBnNetwork} (a network built from an
 * {@code ArchitectureSpec}, split BatchNorm, ARAT predictors, PyTorch-default init and BN
 * semantics), {@link dev.arat.trainer.nn.Sgd} (SGD with a saveable momentum state) and {@link
 * dev.arat.trainer.nn.NetworkClassifier} (the adapter through which attacks query the network in a
 * mode chosen by the trainer).
 */
package dev.arat.trainer.nn;
