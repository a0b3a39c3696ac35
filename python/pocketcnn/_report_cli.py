"""``pocketcnn report MODEL --out report.html`` and the test data it is judged on."""

from __future__ import annotations

import argparse

import numpy as np

CLASS_NAMES = {
    "fashion-mnist": [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ],
    "mnist": [str(d) for d in range(10)],
    "cifar10": [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ],
}
_MAX_NAMES_BYTES = 1 << 16
_MAX_NAME_CHARS = 100


def load_test_set(dataset: str, data_dir, limit: int | None):
    """The test images of a dataset as NCHW float32 in [0, 1] and their labels."""
    from . import datasets

    if dataset == "fashion-mnist":
        _, (x, y) = datasets.fashion_mnist(data_dir)
    elif dataset in ("mnist", "cifar10"):
        if data_dir is None:
            raise ValueError(f"--dataset {dataset} needs --data DIR (no default location)")
        loader = datasets.mnist if dataset == "mnist" else datasets.cifar10
        _, (x, y) = loader(data_dir)
    else:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {sorted(CLASS_NAMES)}")
    if limit:
        x, y = x[:limit], y[:limit]
    if x.ndim == 3:
        x = x[:, None]
    return x.astype(np.float32) / np.float32(255), y.astype(np.int64)


def read_class_names(path) -> list[str]:
    """One class name per line from an untrusted file: bounded read, UTF-8, no empty names."""
    with open(path, "rb") as f:
        raw = f.read(_MAX_NAMES_BYTES + 1)
    if len(raw) > _MAX_NAMES_BYTES:
        raise ValueError(f"{path}: class-name file larger than {_MAX_NAMES_BYTES} bytes")
    try:
        lines = raw.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: class names are not UTF-8 ({e})") from None
    names = [line.strip() for line in lines if line.strip()]
    if any(len(n) > _MAX_NAME_CHARS for n in names):
        raise ValueError(f"{path}: a class name is longer than {_MAX_NAME_CHARS} characters")
    return names


def write_report(model, args, history=None) -> str:
    """The report of ``model`` on the test set chosen by args (dataset, data, limit_test,
    class_names) to args.report_out."""
    from . import viz

    x, y = load_test_set(args.dataset, args.data, args.limit_test)
    want = tuple(model.input_shape[1:])
    if tuple(x.shape[1:]) != want:
        raise ValueError(
            f"the model takes {want} inputs but {args.dataset} images are {tuple(x.shape[1:])}; "
            "choose the dataset it was trained on (--dataset)"
        )
    names = read_class_names(args.class_names) if args.class_names else None
    if names is None and model.layers[-1].output_shape[-1] == len(CLASS_NAMES[args.dataset]):
        names = CLASS_NAMES[args.dataset]
    return viz.report(
        model,
        x,
        y,
        args.report_out,
        class_names=names,
        history=history,
        images=getattr(args, "report_images", 3),
        maximize_steps=getattr(args, "report_steps", 120),
    )


def add_report_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dataset",
        choices=sorted(CLASS_NAMES),
        default="fashion-mnist",
        help="the test set the report judges the model on (default fashion-mnist)",
    )
    p.add_argument("--class-names", metavar="FILE", help="a file with one class name per line")
    p.add_argument(
        "--images",
        dest="report_images",
        type=int,
        default=3,
        help="test images shown with feature maps and saliency (3)",
    )
    p.add_argument(
        "--steps", dest="report_steps", type=int, default=120, help="maximisation steps (120)"
    )


def _report(args) -> int:
    from ._core import set_num_threads
    from .model import load_model

    if args.threads:
        set_num_threads(args.threads)
    model = load_model(args.model, compile=False)
    print(write_report(model, args))
    return 0


def add_report(sub, add_data_args) -> None:
    p = sub.add_parser(
        "report",
        help="one HTML page of what a saved model learned",
        description="Writes one self-contained HTML file (images inlined, no scripts, opens "
        "from disk) of a saved model: summary with weight sharing, the first conv as a dense "
        "matrix, training curves, test accuracy and confusion matrix, the most confidently "
        "misclassified test images, filters, feature maps, saliency (SmoothGrad) and "
        "activation maximisation. Nothing but --out is written.",
    )
    p.add_argument("model", help="model file")
    p.add_argument("--out", dest="report_out", default="report.html", help="(report.html)")
    add_report_data_args(p)
    add_data_args(p)
    p.set_defaults(func=_report)
