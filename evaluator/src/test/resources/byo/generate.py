#!/usr/bin/python3
"""Regenerates the "bring your own model" fixtures of the arat evaluator tests.

Run with Debian's PyTorch (python3-torch 1.13, python3-onnx 1.12) and Fashion-MNIST installed
(apt-get install dataset-fashion-mnist):

    /usr/bin/python3 evaluator/src/test/resources/byo/generate.py [OUT_DIR] [--data DIR]

OUT_DIR defaults to the folder of this script. One small CNN (1x28x28 grey images, 10 classes,
about 3k parameters) is trained for a few seconds on Fashion-MNIST (seeded; 77.6% test accuracy),
then exported in the ways users export their own models:

    reference.onnx    torch.onnx.export with a dynamic batch axis, NCHW float input in [0,1],
                      normalisation (mean 0.2860, std 0.3530) inside the graph: arat's own contract
    fixed-batch.onnx  the same network exported with torch.onnx.export's defaults: the batch axis is
                      fixed to 8 (the dummy input's batch), and the flatten is a Reshape to (8,-1)
    nhwc.onnx         the same network taking (N,28,28,1) channels-last input (a TF/Keras-style
                      export), normalisation inside; dynamic batch
    no-norm.onnx      the same network exported WITHOUT its normalisation: it expects
                      (x - 0.2860) / 0.3530; give the suite `normalization: {mean: [0.2860],
                      std: [0.3530]}` to attack it in pixel space
    hidden-batch.onnx fixed-batch.onnx with its batch axis re-declared dynamic: the Reshape to
                      (8,-1) inside still only accepts batches of 8 (arat cannot know the size)
    round.onnx        reference with an input quantisation in front (Round(x*255)/255): Round has
                      no derivative, white-box attacks are impossible
    einsum.onnx       the network whose last layer is an Einsum (not differentiated by arat)
    loop.onnx         reference followed by a Loop (one trip, identity body) on the logits
    nan.onnx          reference whose logits are multiplied by NaN (NaN everywhere)
    nan-off-grid.onnx reference plus sum(sqrt(1e-12 - relu(x)*relu(1/510-x))): finite, with
                      finite gradients, on 8-bit images (every pixel 0 or >= 1/255) and NaN once
                      a pixel lies in (0, 1/510), as randomly perturbed background pixels do

All share the reference's weights, so every variant computes the same function in pixel space
(round.onnx up to its 8-bit quantisation, nan* aside). The Java tests (ByoModelsTest, ...) compare
them end to end (ByoModelsTest, HonestVerdictsTest; the CLI's InspectGradientCommandTest reads them
too); nothing in the product depends on Python.
"""
import argparse
import gzip
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

MEAN = 0.2860
STD = 0.3530
FIXED_BATCH = 8
OPSET = 13


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


class Net(nn.Module):
    """Conv(1,8,3,s2)+ReLU, Conv(8,16,3,s2)+ReLU, AvgPool(2), Linear(144,10); the input is
    normalised inside when `normalize`, and the flatten is a Reshape to (N,-1) with N read from the
    input (torch.onnx.export folds it to a constant when the batch axis is fixed)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 2)
        self.conv2 = nn.Conv2d(8, 16, 3, 2)
        self.fc = nn.Linear(144, 10)
        self.normalize = True
        self.nhwc = False
        self.einsum = False

    def forward(self, x):
        if self.nhwc:
            x = x.permute(0, 3, 1, 2)
        if self.normalize:
            x = (x - MEAN) / STD
        x = F.relu(self.conv1(x))
        x = F.avg_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(x.size(0), -1)
        if self.einsum:
            return torch.einsum("ni,ki->nk", x, self.fc.weight) + self.fc.bias
        return self.fc(x)


def train(data_dir):
    torch.manual_seed(0)
    x = idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz"))[:12000]
    y = idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"))[:12000]
    x = torch.tensor(x, dtype=torch.float32).unsqueeze(1) / 255.0
    y = torch.tensor(y, dtype=torch.int64)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for epoch in range(3):
        perm = torch.randperm(len(x))
        for i in range(0, len(x), 128):
            b = perm[i:i + 128]
            loss = F.cross_entropy(net(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    tx = idx(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz"))
    ty = idx(os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz"))
    with torch.no_grad():
        pred = net(torch.tensor(tx, dtype=torch.float32).unsqueeze(1) / 255.0).argmax(1).numpy()
    print("test accuracy %.4f" % (pred == ty).mean())
    return net


def export(net, path, dummy, dynamic):
    kwargs = {}
    if dynamic:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "logits": {0: "batch"}}
    torch.onnx.export(net, dummy, path, input_names=["input"], output_names=["logits"],
                      opset_version=OPSET, **kwargs)
    print("wrote", path, os.path.getsize(path), "bytes")


def edit(src, path, build):
    """Loads src, lets build(graph) append nodes/initializers and rename the output, saves."""
    m = onnx.load(src)
    build(m.graph)
    onnx.checker.check_model(m)
    onnx.save(m, path)
    print("wrote", path, os.path.getsize(path), "bytes")


def prepend_round(g):
    old = g.input[0].name
    g.input[0].name = "pixels"
    g.initializer.extend([numpy_helper.from_array(np.array(255, np.float32), "q255")])
    nodes = [helper.make_node("Mul", ["pixels", "q255"], ["q_scaled"], name="quantize_scale"),
             helper.make_node("Round", ["q_scaled"], ["q_round"], name="quantize_round"),
             helper.make_node("Div", ["q_round", "q255"], [old], name="quantize_back")]
    for i, n in enumerate(nodes):
        g.node.insert(i, n)


def append_loop(g):
    out = g.output[0].name
    g.output[0].name = "looped"
    g.initializer.extend([numpy_helper.from_array(np.array(1, np.int64), "trips"),
                          numpy_helper.from_array(np.array(True), "keep_going")])
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Identity", ["v_in"], ["v_out"])],
        "loop_body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []),
         helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_in", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None)])
    g.node.append(helper.make_node("Loop", ["trips", "keep_going", out], ["looped"],
                                   name="identity_loop", body=body))


def hide_batch(g):
    g.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"


def append_nan(g):
    out = g.output[0].name
    g.output[0].name = "nan_logits"
    g.initializer.extend([numpy_helper.from_array(np.array(float("nan"), np.float32), "nan")])
    g.node.append(helper.make_node("Mul", [out, "nan"], ["nan_logits"], name="times_nan"))


def append_nan_off_grid(g):
    out = g.output[0].name
    x = g.input[0].name
    g.output[0].name = "guarded_logits"
    g.initializer.extend([
        numpy_helper.from_array(np.array(1.0 / 510, np.float32), "half_level"),
        numpy_helper.from_array(np.array(1e-12, np.float32), "tiny"),
        numpy_helper.from_array(np.array([1, 2, 3], np.int64), "pixel_axes")])
    g.node.extend([
        helper.make_node("Relu", [x], ["above_zero"], name="guard_above"),
        helper.make_node("Sub", ["half_level", x], ["below_half_level_raw"], name="guard_gap"),
        helper.make_node("Relu", ["below_half_level_raw"], ["below_half_level"], name="guard_below"),
        helper.make_node("Mul", ["above_zero", "below_half_level"], ["in_gap"], name="guard_in_gap"),
        helper.make_node("Sub", ["tiny", "in_gap"], ["tiny_minus_in_gap"], name="guard_negate"),
        helper.make_node("Sqrt", ["tiny_minus_in_gap"], ["nan_if_in_gap"], name="guard_sqrt"),
        helper.make_node("ReduceSum", ["nan_if_in_gap", "pixel_axes"], ["guard"], keepdims=0,
                         name="guard_sum"),
        helper.make_node("Unsqueeze", ["guard", "one_axis"], ["guard_col"], name="guard_col"),
        helper.make_node("Add", [out, "guard_col"], ["guarded_logits"], name="guard_add")])
    g.initializer.extend([numpy_helper.from_array(np.array([1], np.int64), "one_axis")])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("out", nargs="?", default=here)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    net = train(a.data)
    nchw = torch.rand(FIXED_BATCH, 1, 28, 28)
    ref = os.path.join(a.out, "reference.onnx")
    export(net, ref, nchw, dynamic=True)
    export(net, os.path.join(a.out, "fixed-batch.onnx"), nchw, dynamic=False)
    net.nhwc = True
    export(net, os.path.join(a.out, "nhwc.onnx"), nchw.permute(0, 2, 3, 1).contiguous(), dynamic=True)
    net.nhwc = False
    net.normalize = False
    export(net, os.path.join(a.out, "no-norm.onnx"), nchw, dynamic=True)
    net.normalize = True
    net.einsum = True
    export(net, os.path.join(a.out, "einsum.onnx"), nchw, dynamic=True)
    net.einsum = False
    edit(os.path.join(a.out, "fixed-batch.onnx"), os.path.join(a.out, "hidden-batch.onnx"), hide_batch)
    edit(ref, os.path.join(a.out, "round.onnx"), prepend_round)
    edit(ref, os.path.join(a.out, "loop.onnx"), append_loop)
    edit(ref, os.path.join(a.out, "nan.onnx"), append_nan)
    edit(ref, os.path.join(a.out, "nan-off-grid.onnx"), append_nan_off_grid)


if __name__ == "__main__":
    main()
