"""Models with every layer kind and the tolerance the ONNX tests compare with."""

import numpy as np
from models import lecture_model

import pocketcnn as pc

L = pc.layers


def randomize(model, seed=0):
    """Non-zero biases and weights of a realistic scale, so every term of the formula counts."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):  # the moving variance must stay positive
            layer.set_weights([rng.uniform(0.5, 1.5, w.shape) for w in layer.get_weights()])
        elif layer.weights:
            ws = layer.get_weights()
            fan_in = ws[0][0].size
            scale = 1.0 / np.sqrt(fan_in)
            layer.set_weights([rng.normal(0, scale, w.shape) for w in ws])
    return model


def zoo():
    """name -> built model with random weights; together they use every layer type, every
    activation, every padding kind and both pooling count modes."""
    models = {
        "lecture": lecture_model(),
        "same_stride_pads": pc.Sequential([
            L.Conv2D(6, 3, strides=2, padding="same", activation="sigmoid", use_bias=False,
                     input_shape=(3, 10, 10)),
            L.AvgPool2D(3, strides=1, padding=1, count_include_pad=False),
            L.Conv2D(5, (3, 2), strides=(1, 2), padding=(1, 0), activation="tanh"),
            L.MaxPool2D(2, strides=1, padding=1),
            L.AvgPool2D(2, padding=1, count_include_pad=True),
            L.Flatten(),
            L.Dropout(0.5),
            L.Dense(7, activation="tanh", use_bias=False),
            L.Activation("linear"),
            L.Dense(4),
            L.Softmax(),
        ]),
        "activation_layers": pc.Sequential([
            L.Conv2D(4, 1, input_shape=(2, 5, 5)),
            L.ReLU(),
            L.Activation("sigmoid"),
            L.Activation("tanh"),
            L.Conv2D(3, 3, padding="same", activation="softmax"),  # softmax over channels
            L.Dropout(0.2),
            L.Flatten(),
            L.Activation("relu"),
            L.Dense(3, activation="sigmoid"),
        ]),
        "cnn_after_the_lecture": pc.Sequential([
            L.ZeroPadding2D(((1, 0), (2, 1)), input_shape=(2, 7, 7)),
            L.Conv2D(4, 3, use_bias=False),
            L.BatchNormalization(),
            L.ReLU(),
            L.MaxPool2D(2, padding="same"),
            L.AvgPool2D(3, strides=2, padding="same", count_include_pad=False),
            L.BatchNormalization(center=False),
            L.GlobalMaxPooling2D(keepdims=True),
            L.Reshape((-1,)),
            L.Dense(6),
            L.BatchNormalization(scale=False),
            L.Reshape((2, 3, 1)),
            L.GlobalAveragePooling2D(),
            L.Dense(3, activation="softmax"),
        ]),
        "mobile_and_dilated": pc.Sequential([
            L.Conv2D(4, 3, padding="same", dilation_rate=2, input_shape=(2, 9, 9)),
            L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2,
                              activation="relu"),
            L.Conv2D(4, 1, groups=2),
            L.SeparableConv2D(5, 3, padding="same", activation="relu"),
            L.Flatten(),
            L.Dense(3),
        ]),
        "keras3_activations": pc.Sequential([
            L.Conv2D(4, 3, padding="same", activation="elu", input_shape=(2, 6, 6)),
            L.LeakyReLU(0.1),
            L.Conv2D(4, 3, activation="softplus"),
            L.ELU(0.5),
            L.Conv2D(3, 1),
            L.Activation("hard_sigmoid"),
            L.Flatten(),
            L.Dense(5, activation="leaky_relu"),
            L.Dense(3),
        ]),
        "dense_only": pc.Sequential([
            L.Dense(9, activation="relu", input_shape=(12,)),
            L.Dense(5, activation="softmax"),
        ]),
        "graph_residual": graph_model(),
    }  # fmt: skip
    return {name: randomize(m, i) for i, (name, m) in enumerate(models.items())}


def graph_model():
    """A functional model: conv-BN-ReLU stem, a residual block (Add + ReLU), a Concatenate of
    three branches, an Add of three inputs one of which comes twice, global pooling."""
    x = pc.Input((3, 8, 8))
    h = L.Conv2D(4, 3, padding="same", use_bias=False)(x)
    h = L.ReLU()(L.BatchNormalization()(h))
    y = L.Conv2D(4, 3, padding="same", activation="relu")(h)
    y = L.Conv2D(4, 3, padding="same")(y)
    h = L.ReLU()(L.Add()([h, y]))
    pooled = L.AvgPool2D(3, strides=1, padding=1)(h)
    h = L.Concatenate()([h, L.Conv2D(2, 1, activation="tanh")(h), pooled])  # 10 channels
    h = L.Add()([h, L.Conv2D(10, 1)(h), h])
    return pc.Model(x, L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(h)))


def inputs(model, batch, seed=1):
    shape = model.input_shape[1:]
    return np.random.default_rng(seed).normal(0, 1, (batch, *shape)).astype(np.float32)


def assert_close(actual, expected, rtol=1e-5):
    """Equal to ``rtol`` relative to the output's scale (elementwise rtol alone fails on the
    exact zeros of a ReLU, where the two runtimes round differently around 0)."""
    expected = np.asarray(expected)
    scale = float(np.abs(expected).max()) or 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)
