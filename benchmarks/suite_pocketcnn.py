"""pocketcnn's side of the suite (run by suite.py in a subprocess; prints one RESULT line).

Every network as a user writes it: ``pc.Sequential`` of ``pc.layers``; inference is
``model.predict`` (the compiled inference plan), training ``model.train_on_batch`` with
``pc.optim.SGD(momentum=0.9)`` and cross-entropy on the logits.
"""

from __future__ import annotations

from common import emit, measure_suite, suite_args, suite_networks
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
    model = pc.Sequential([layer(s, i == 0, net.input_shape) for i, s in enumerate(net.layers)])
    model.set_weights(weights(net))
    return model


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
