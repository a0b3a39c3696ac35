"""Train the lecture CNN on Fashion-MNIST, then look at what it learned.

    pip install ".[viz]"
    python examples/what_the_cnn_learned.py --epochs 3 --out docs/img

Writes PNG pictures into --out: the first layer's 25 filters, the second layer's filters per
input channel, one test image's feature maps after each conv and pooling layer, saliency maps of
a few test images, the input each class likes most (gradient ascent on the input), and the
training curves. The README shows the pictures committed under docs/img.
"""

from __future__ import annotations

import argparse
import os

import numpy as np

import pocketcnn as pc

FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="Fashion-MNIST directory (Debian's default)")
    parser.add_argument("--out", default="docs/img", help="where the PNG files go")
    parser.add_argument("--model", default=None, help="reuse a saved model instead of training")
    args = parser.parse_args()

    (x_train, y_train), (x_test, y_test) = pc.datasets.fashion_mnist(args.data)
    x_train = x_train[:, None].astype("float32") / 255
    x_test = x_test[:, None].astype("float32") / 255

    if args.model and os.path.exists(args.model):
        model = pc.load_model(args.model)
    else:
        model = pc.presets.lecture(args.seed)
        model.compile(optimizer=pc.optim.Adam(1e-3), loss="cross_entropy", metrics=["accuracy"])
        model.fit(x_train, y_train, batch_size=64, epochs=args.epochs, validation_split=0.1)
        if args.model:
            model.save(args.model)
    print("test:", model.evaluate(x_test, y_test, batch_size=256))

    os.makedirs(args.out, exist_ok=True)

    def save(image, name, scale=8):
        path = pc.viz.save_png(image, os.path.join(args.out, name), scale=scale)
        print("wrote", path)

    # 1. Filters: the first layer's 3x3 kernels, and the second's per input channel.
    save(pc.viz.filters(model, 0), "filters_conv1.png", scale=12)
    save(pc.viz.filters(model, 2), "filters_conv2.png", scale=4)

    # 2. Feature maps of one test image (a sneaker) after every conv and pooling layer.
    image = x_test[int(np.flatnonzero(y_test == 7)[0])]
    save(pc.viz.make_grid(image[:1]), "input.png")
    for i in range(4):
        save(pc.viz.feature_maps(model, image, i), f"features_{i}_{model.layers[i].name}.png", 4)

    # 3. Saliency: which pixels decide the predicted class (input | saliency | overlay per row).
    rows = []
    for k in (0, 1, 5, 8, 9):  # a T-shirt, trousers, a sandal, a bag, an ankle boot
        img = x_test[int(np.flatnonzero(y_test == k)[0])]
        res = pc.viz.saliency(model, img)
        grey = np.repeat(img[0][..., None], 3, axis=-1)
        rows += [grey, np.repeat(res.map[..., None], 3, axis=-1), res.overlay]
        print(f"saliency: true {FASHION_CLASSES[k]}, predicted {FASHION_CLASSES[res.class_index]}")
    save(pc.viz.make_grid(np.stack(rows), cols=3, normalise="none"), "saliency.png", 4)

    # 4. Activation maximisation: the input each class score likes most.
    found = [pc.viz.maximize(model, -1, k, steps=300, seed=args.seed).image[0] for k in range(10)]
    save(pc.viz.make_grid(np.stack(found), cols=5), "maximize_classes.png", 4)
    found = [pc.viz.maximize(model, 2, k, steps=200, seed=args.seed).image[0] for k in range(16)]
    save(pc.viz.make_grid(np.stack(found)), "maximize_conv2.png", 4)

    # 5. Training curves (loss and accuracy; training blue, validation orange).
    if model.history is not None:
        save(pc.viz.curves(model.history), "curves.png", scale=1)


if __name__ == "__main__":
    main()
