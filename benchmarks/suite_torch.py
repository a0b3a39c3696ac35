"""PyTorch's side of the suite (run by suite.py in a subprocess with the tuned-malloc environment;
prints one RESULT line): channels_last, inference under ``torch.inference_mode``, training with
``torch.optim.SGD(momentum=0.9)`` and ``F.cross_entropy``. ``--export DIR`` instead writes every
network to DIR/<name>.onnx (``torch.onnx.export``, opset 17, dynamic batch) for the ONNX engines.
"""

from __future__ import annotations

import os
import warnings

import torch
import torch.nn.functional as F
from common import emit, measure_suite, suite_args, suite_networks
from graph_networks import BN_EPS, graph_shapes, graph_weights
from networks import shapes, weights

LR, MOMENTUM = 0.005, 0.9
ACTIVATIONS = {
    None: None,
    "relu": torch.nn.ReLU,
    "tanh": torch.nn.Tanh,
    "sigmoid": torch.nn.Sigmoid,
}


class GraphNet(torch.nn.Module):
    """A graph network of graph_networks.py: its nodes as modules, forward walks them."""

    def __init__(self, net):
        super().__init__()
        self.nodes = net.graph
        shapes = graph_shapes(net.input_shape, net.graph)
        self.mods = torch.nn.ModuleDict()
        for name, op, inputs, *p in net.graph:
            c = shapes[inputs[0]][0]
            if op == "conv":
                filters, k, stride, pad = p
                self.mods[name] = torch.nn.Conv2d(c, filters, k, stride, pad, bias=False)
            elif op == "bn":
                self.mods[name] = torch.nn.BatchNorm2d(c, eps=BN_EPS)
            elif op == "dense":
                self.mods[name] = torch.nn.Linear(c, p[0])
        with torch.no_grad():
            for name, arrays in graph_weights(net.input_shape, net.graph).items():
                mod = self.mods[name]
                if isinstance(mod, torch.nn.BatchNorm2d):
                    targets = [mod.weight, mod.bias, mod.running_mean, mod.running_var]
                else:
                    targets = list(mod.parameters())
                assert len(targets) == len(arrays), name
                for t, a in zip(targets, arrays):
                    t.copy_(torch.from_numpy(a))

    def forward(self, x):
        values = {"x": x}
        for name, op, inputs, *_ in self.nodes:
            a = values[inputs[0]]
            if op == "relu":
                values[name] = torch.relu(a)
            elif op == "add":
                values[name] = a + values[inputs[1]]
            elif op == "gap":
                values[name] = torch.flatten(F.adaptive_avg_pool2d(a, 1), 1)
            else:
                values[name] = self.mods[name](a)
        return values[self.nodes[-1][0]]


def build(net) -> torch.nn.Module:
    """The network in NCHW (channels_last is applied by the caller), with the suite's weights."""
    if net.graph:
        return GraphNet(net)
    mods, shape = [], net.input_shape
    for spec, out in zip(net.layers, shapes(net)):
        kind, act = spec[0], None
        if kind == "conv":
            _, k, size, stride, pad, act = spec
            mods.append(torch.nn.Conv2d(shape[0], k, size, stride=stride, padding=pad))
        elif kind == "maxpool":
            mods.append(torch.nn.MaxPool2d(spec[1], stride=spec[2], padding=spec[3]))
        elif kind == "avgpool":
            mods.append(torch.nn.AvgPool2d(spec[1], stride=spec[2], padding=spec[3]))
        elif kind == "flatten":
            mods.append(torch.nn.Flatten())
        elif kind == "dense":
            mods.append(torch.nn.Linear(shape[0], spec[1]))
            act = spec[2]
        if ACTIVATIONS[act] is not None:
            mods.append(ACTIVATIONS[act]())
        shape = out
    model = torch.nn.Sequential(*mods)
    params, arrays = list(model.parameters()), weights(net)
    assert len(params) == len(arrays), f"{net.name}: {len(params)} parameters, {len(arrays)} arrays"
    with torch.no_grad():
        for p, w in zip(params, arrays):
            p.copy_(torch.from_numpy(w))
    return model


def channels_last(x):
    return torch.from_numpy(x).contiguous(memory_format=torch.channels_last)


def build_infer(net):
    model = build(net).eval().to(memory_format=torch.channels_last)

    def infer(x):
        with torch.inference_mode():
            return model(channels_last(x)).numpy()

    return infer


def build_train(net):
    model = build(net).to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    inputs = {}  # the batch converted once, as the other libraries get numpy arrays as they are

    def step(x, y):
        if id(x) not in inputs:
            inputs[id(x)] = (channels_last(x), torch.from_numpy(y))
        xt, yt = inputs[id(x)]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()
        return loss

    return step


def export(networks, folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    for net in networks:
        model = build(net).eval()
        x = torch.zeros((2, *net.input_shape))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
            torch.onnx.export(
                model,
                (x,),
                os.path.join(folder, f"{net.name}.onnx"),
                dynamo=False,
                opset_version=17,
                input_names=["x"],
                output_names=["logits"],
                dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
            )


def main() -> None:
    ap = suite_args(__doc__)
    ap.add_argument("--export", help="write <network>.onnx files to this folder and exit")
    args = ap.parse_args()
    networks = suite_networks(args.networks)
    if args.export:
        export(networks, args.export)
        emit({"exported": [n.name for n in networks]})
        return
    torch.set_num_threads(args.threads)
    res = measure_suite(networks, build_infer, build_train, args.min_time)
    emit({"suite": res, "version": torch.__version__})


if __name__ == "__main__":
    main()
