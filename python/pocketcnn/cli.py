"""The ``pocketcnn`` command: train and evaluate the lecture CNN on Fashion-MNIST.

    pocketcnn train [--data DIR] [--epochs 3] [--batch-size 64] [--lr 1e-3] [--seed 0]
                    [--threads N] [--out lecture.pcnn]
    pocketcnn evaluate MODEL [--data DIR]
    pocketcnn viz MODEL [--what filters features saliency maximize curves] [--out DIR]
    pocketcnn report MODEL [--dataset fashion-mnist|mnist|cifar10] [--data DIR] [--out FILE]

Each subcommand is a function in ``_SUBCOMMANDS`` that adds an argparse sub-parser and sets
``func`` (called with the parsed arguments, returns the exit code); add new ones the same way.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

import numpy as np


def lecture_model(seed: int = 0):
    """The lecture's network, ``pocketcnn.presets.lecture`` (imported here on first use, so
    ``pocketcnn --help`` stays fast)."""
    from .presets import lecture

    return lecture(seed)


def _load_data(path, limit_train: int | None, limit_test: int | None):
    """Fashion-MNIST as NCHW float32 in [0, 1]."""
    from . import datasets

    (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist(path)
    if limit_train:
        x_train, y_train = x_train[:limit_train], y_train[:limit_train]
    if limit_test:
        x_test, y_test = x_test[:limit_test], y_test[:limit_test]

    def prep(x):
        return x[:, None].astype(np.float32) / np.float32(255)

    return (prep(x_train), y_train), (prep(x_test), y_test)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data",
        metavar="DIR",
        default=None,
        help="directory with the Fashion-MNIST IDX files (default: "
        "/usr/share/datasets/fashion-mnist, from `apt-get install dataset-fashion-mnist`)",
    )
    p.add_argument(
        "--limit-test", type=_positive_int, metavar="N", help="use only the first N test images"
    )
    p.add_argument("--threads", type=_positive_int, metavar="N", help="threads for the kernels")


def _train(args) -> int:
    from . import distributed, optim
    from ._core import get_num_threads, set_num_threads

    distributed.init()  # under `mpiexec -n K`: data-parallel on K ranks, rank 0 prints and saves
    say = distributed.print0
    if args.threads:
        set_num_threads(args.threads)
    (x_train, y_train), (x_test, y_test) = _load_data(args.data, args.limit_train, args.limit_test)
    ranks = f"{distributed.size()} MPI ranks x " if distributed.size() > 1 else ""
    say(
        f"Fashion-MNIST: {len(x_train):,} training and {len(x_test):,} test images; "
        f"{ranks}{get_num_threads()} thread(s)"
    )
    model = lecture_model(args.seed)
    model.summary(print_fn=say)
    model.compile(optimizer=optim.Adam(args.lr), loss="cross_entropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(
        x_train,
        y_train,
        batch_size=args.batch_size,
        epochs=args.epochs,
        seed=args.seed,
        verbose=1,
        distributed=True,  # plain fit on one process
    )
    train_seconds = time.perf_counter() - start
    result = model.evaluate(x_test, y_test, batch_size=256)
    say(
        f"Test accuracy: {result['accuracy']:.4f} (loss {result['loss']:.4f}) after "
        f"{args.epochs} epoch(s); training took {train_seconds:.1f}s"
    )
    if distributed.size() > 1:
        share = distributed.stats()["seconds"] / max(train_seconds, 1e-9)
        say(f"Gradient allreduce (pack, reduce, unpack): {100 * share:.1f}% of the training time")
    model.save(args.out)  # rank 0 only
    say(f"Saved the model to {args.out}")
    if args.report_out and distributed.is_root():
        from ._report_cli import write_report

        print(f"Wrote the report to {write_report(model, args)}")
    return 0


def _evaluate(args) -> int:
    from ._core import set_num_threads
    from .model import load_model

    if args.threads:
        set_num_threads(args.threads)
    model = load_model(args.model)
    if model.loss is None:
        model.compile(loss="cross_entropy", metrics=["accuracy"])
    elif "accuracy" not in model.metrics:
        model.compile(model.optimizer, model.loss, [*model.metrics, "accuracy"])
    _, (x_test, y_test) = _load_data(args.data, 1, args.limit_test)
    result = model.evaluate(x_test, y_test, batch_size=256)
    print(
        f"{args.model}: test accuracy {result['accuracy']:.4f}, loss {result['loss']:.4f} "
        f"on {len(x_test):,} Fashion-MNIST test images"
    )
    return 0


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train the lecture CNN on Fashion-MNIST",
        description="Trains the lecture CNN on Fashion-MNIST with Adam, prints the summary, "
        "progress and test accuracy, and saves the model.",
    )
    _add_data_args(p)
    p.add_argument("--epochs", type=_positive_int, default=3, help="epochs (default 3)")
    p.add_argument("--batch-size", type=_positive_int, default=64, help="batch size (default 64)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights and shuffling (0)")
    p.add_argument("--out", default="lecture.pcnn", help="model file (default lecture.pcnn)")
    p.add_argument(
        "--limit-train", type=_positive_int, metavar="N", help="use only the first N images"
    )
    p.add_argument("--report", dest="report_out", metavar="FILE", help="write an HTML report")
    p.set_defaults(func=_train, dataset="fashion-mnist", class_names=None)


def _add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="test accuracy of a saved model on Fashion-MNIST",
        description="Loads a model saved by `pocketcnn train` (or model.save) and reports its "
        "Fashion-MNIST test accuracy.",
    )
    p.add_argument("model", help="model file")
    _add_data_args(p)
    p.set_defaults(func=_evaluate)


VIZ_KINDS = ("filters", "features", "saliency", "maximize", "curves")


def _inside(directory: str, name: str) -> str:
    """``directory/name`` for a file name built from layer names read from a model file (which
    are untrusted: ``x/../../escaped`` must not write outside --out). Characters other than
    letters, digits, ``.``, ``_`` and ``-`` become ``_`` and leading dots are dropped; the
    resolved result must still lie directly in ``directory``."""
    import os
    import re

    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".")[:200] or "_"
    out = os.path.realpath(directory)
    path = os.path.realpath(os.path.join(out, safe))
    if os.path.dirname(path) != out:
        raise ValueError(f"viz: output name {name!r} does not stay inside {directory}")
    return path


def _viz(args) -> int:
    """Writes the chosen pictures of a saved model as PNG files into args.out."""
    import os

    from . import layers, viz
    from ._core import set_num_threads
    from .model import load_model

    if args.threads:
        set_num_threads(args.threads)
    model = load_model(args.model, compile=False)
    os.makedirs(args.out, exist_ok=True)
    convs = [i for i, lay in enumerate(model.layers) if isinstance(lay, layers.Conv2D)]
    written: list[str] = []

    def save(image, name, scale=args.scale):
        written.append(viz.save_png(image, _inside(args.out, name), scale=scale))

    images = np.zeros((0, 1, 28, 28), np.float32)  # test images, loaded if a picture needs them
    if {"features", "saliency"} & set(args.what):
        _, (x_test, _) = _load_data(args.data, 1, args.image + args.count)
        images = x_test[args.image : args.image + args.count]
    for what in args.what:
        if what == "filters":
            for i in convs:
                save(viz.filters(model, i), f"filters_{model.layers[i].name}.png")
        elif what == "features":
            save(viz.make_grid(images[:1, 0]), "features_input.png")
            for i, lay in enumerate(model.layers):
                if isinstance(lay, (layers.Conv2D, layers.MaxPool2D, layers.AvgPool2D)):
                    save(viz.feature_maps(model, images[0], i), f"features_{lay.name}.png")
        elif what == "saliency":
            tiles = []
            for img in images:
                res = viz.saliency(model, img)
                grey = np.repeat(viz.make_grid(img[:1], pad=0)[..., None], 3, axis=-1)
                heat = np.repeat(res.map[..., None], 3, axis=-1)
                tiles += [grey, heat, res.overlay]
            save(viz.make_grid(np.stack(tiles), cols=3, normalise="none"), "saliency.png")
        elif what == "maximize":
            classes = model.output_shape[-1]
            found = [viz.maximize(model, -1, k, steps=args.steps).image[0] for k in range(classes)]
            save(viz.make_grid(np.stack(found), cols=min(classes, 5)), "maximize_classes.png")
            if convs:
                last = convs[-1]
                n = min(16, model.layers[last]._built_output_shape()[0])
                found = [viz.maximize(model, last, k, steps=args.steps).image[0] for k in range(n)]
                save(viz.make_grid(np.stack(found)), f"maximize_{model.layers[last].name}.png")
        elif what == "curves":
            if model.history is None or not model.history.history:
                raise ValueError(f"{args.model} holds no training history (it was never fit)")
            save(viz.curves(model.history), "curves.png", scale=1)
    for path in written:
        print(path)
    return 0


def _add_viz(sub) -> None:
    p = sub.add_parser(
        "viz",
        help="pictures of what a saved model learned",
        description="Writes PNG pictures of a saved model: its conv filters, the feature maps "
        "and saliency of Fashion-MNIST test images, inputs that maximise each class and the last "
        "conv layer's filters, and its training curves (PNG files written by pocketcnn's own "
        "encoder: nothing to install).",
    )
    p.add_argument("model", help="model file")
    p.add_argument(
        "--what",
        nargs="+",
        choices=VIZ_KINDS,
        default=list(VIZ_KINDS),
        help="which pictures (default: all)",
    )
    p.add_argument("--out", default="viz", help="output directory (default ./viz)")
    p.add_argument("--image", type=int, default=0, help="first test image to explain (0)")
    p.add_argument("--count", type=_positive_int, default=4, help="images for saliency (4)")
    p.add_argument("--steps", type=_positive_int, default=200, help="maximisation steps (200)")
    p.add_argument("--scale", type=_positive_int, default=8, help="pixel enlargement (8)")
    _add_data_args(p)
    p.set_defaults(func=_viz)


def _add_report(sub) -> None:
    from ._report_cli import add_report

    add_report(sub, _add_data_args)


_SUBCOMMANDS = [_add_train, _add_evaluate, _add_viz, _add_report]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pocketcnn", description="pocketcnn: a small, fast CNN library for CPUs."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for add in _SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, ImportError) as e:
        print(f"pocketcnn {args.command}: error: {e}", file=sys.stderr)
        _abort_other_ranks(e)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def _abort_other_ranks(error: BaseException) -> None:
    """In an MPI job, one rank's error ends every rank (the others would wait for it), unless
    every rank raised it at the same point."""
    from . import distributed

    if distributed.is_initialized() and not getattr(error, "_pocketcnn_all_ranks", False):
        distributed.abort(f"{type(error).__name__}: {error}", 2)


if __name__ == "__main__":
    sys.exit(main())
