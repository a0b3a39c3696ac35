"""pocketcnn's side of the suite (run by suite.py in a subprocess; prints one RESULT line).

Every network as a user writes it: ``pc.Sequential`` of ``pc.layers`` (graph networks with the
functional API, ``pc.Model``); inference is
``model.predict`` (the compiled inference plan), training ``model.train_on_batch`` with
``pc.optim.SGD(momentum=0.9)`` and cross-entropy on the logits.
"""

from __future__ import annotations

import os
import sys

from common import emit, measure_suite, suite_args, suite_networks
from graph_networks import BN_EPS, graph_weights
from networks import weights

import pocketcnn as pc

LR, MOMENTUM = 0.005, 0.9


def layer(spec, first: bool, input_shape):
    kw = {"input_shape": input_shape} if first else {}
    kind = spec[0]
    if kind == "conv":
        _, k, size, stride, pad, act = spec
        return pc.layers.Conv2D(k, size, strides=stride, padding=pad, activation=act, **kw)
    if kind == "maxpool":
        return pc.layers.MaxPool2D(spec[1], strides=spec[2], padding=spec[3], **kw)
    if kind == "avgpool":
        return pc.layers.AvgPool2D(spec[1], strides=spec[2], padding=spec[3], **kw)
    if kind == "flatten":
        return pc.layers.Flatten(**kw)
    if kind == "dense":
        return pc.layers.Dense(spec[1], activation=spec[2], **kw)
    raise NotImplementedError(f"no pocketcnn layer for {spec!r}")


def build(net) -> pc.Sequential:
    if net.graph:
        return build_graph(net)
    model = pc.Sequential([layer(s, i == 0, net.input_shape) for i, s in enumerate(net.layers)])
    model.set_weights(weights(net))
    return model


def build_graph(net) -> pc.Model:
    """A graph network (graph_networks.py) with the functional API, as examples/ write it."""
    L = pc.layers
    values = {"x": pc.Input(net.input_shape)}
    named = {}
    for name, op, inputs, *p in net.graph:
        if op == "conv":
            filters, k, stride, pad = p
            lay = L.Conv2D(filters, k, strides=stride, padding=pad, use_bias=False, name=name)
        elif op == "bn":
            lay = L.BatchNormalization(epsilon=BN_EPS, name=name)
        elif op == "relu":
            lay = L.ReLU(name=name)
        elif op == "add":
            lay = L.Add(name=name)
        elif op == "gap":
            lay = L.GlobalAveragePooling2D(name=name)
        else:
            lay = L.Dense(p[0], name=name)
        ins = [values[i] for i in inputs]
        values[name] = lay(ins if op == "add" else ins[0])
        named[name] = lay
    model = pc.Model(values["x"], values[net.graph[-1][0]], name=net.name)
    for name, arrays in graph_weights(net.input_shape, net.graph).items():
        named[name].set_weights(arrays)
    if net.name == "small_resnet":
        _check_against_the_example(model)
    return model


def _check_against_the_example(model) -> None:
    """The suite's ResNet must be examples/small_resnet.py's: same layers, same parameters."""
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
    from small_resnet import small_resnet

    example = small_resnet()
    kinds = sorted(layer.type_name for layer in example.layers)
    if (kinds, example.count_params()) != (
        sorted(layer.type_name for layer in model.layers),
        model.count_params(),
    ):
        raise ValueError("benchmarks/graph_networks.py no longer matches examples/small_resnet.py")


def build_infer(net):
    model = build(net)
    return lambda x: model.predict(x, batch_size=len(x))


def build_train(net):
    model = build(net)
    model.compile(optimizer=pc.optim.SGD(LR, momentum=MOMENTUM), loss="cross_entropy")
    return model.train_on_batch


def main() -> None:
    args = suite_args(__doc__).parse_args()
    pc.set_num_threads(args.threads)
    res = measure_suite(suite_networks(args.networks), build_infer, build_train, args.min_time)
    emit(
        {
            "suite": res,
            "fma_peak_gflops": pc._core._fma_peak(args.threads, 0.3),
            "cpu_info": pc.cpu_info(),
            "version": pc.__version__,
        }
    )


if __name__ == "__main__":
    main()
