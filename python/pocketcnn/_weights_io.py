"""Weights from other frameworks: PyTorch-style ``state_dict`` names and Keras layouts.

``model.state_dict()`` names each weight ``"{index}.{name}"``: the layer's index in
``model.layers`` and ``weight`` (the kernel: conv ``(K, C, R, S)``, dense ``(out, in)``) or
``bias`` -- PyTorch's names for an ``nn.Sequential`` with the same modules in the same places.
``model.load_state_dict(mapping)`` also takes the layer's name as the prefix
(``"conv2d.weight"``), and with ``match="order"`` assigns the mapping's layers in order to the
model's layers that have weights: a torch ``nn.Sequential`` whose ReLU/MaxPool modules shift the
indices (``0.weight, 3.weight, 7.weight``) loads that way.

Keras layouts (``model.set_weights(ws, layout="keras")`` or ``pc.load_keras_weights``): conv
kernels are HWIO ``(R, S, C, K)``, dense kernels ``(in, out)``, and the first Dense after a
Flatten of ``(C, H, W)`` features expects them in Keras' NHWC flatten order ``(h, w, c)``:
its rows are permuted to pocketcnn's ``(c, h, w)`` order (without that, predictions are silently
wrong).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Callable

import numpy as np

from . import layers as L

# Per layer class: the state_dict name of each of its weight_names then state_names (default:
# those names, with "kernel" spelled "weight" as PyTorch does).
STATE_DICT_NAMES: dict[str, tuple[str, ...]] = {}


def _torch_names(layer: L.Layer) -> tuple[str, ...]:
    for cls in type(layer).__mro__:
        if cls.__name__ in STATE_DICT_NAMES:
            return STATE_DICT_NAMES[cls.__name__]
    names = (
        *layer.weight_names[: len(layer.weights)],
        *layer.state_names[: len(layer.non_trainable_weights)],
    )
    return tuple("weight" if n == "kernel" else n for n in names)


def _has_tensors(layer: L.Layer) -> bool:
    return bool(layer.weights or layer.non_trainable_weights)


def _require_built(model, who: str) -> None:
    if not model.built:
        raise RuntimeError(
            f"{model.name}.{who}: the model is not built yet; give the first "
            "layer an input_shape or call model.build(input_shape)"
        )


def state_dict(model) -> dict[str, np.ndarray]:
    """``{"0.weight": kernel, "0.bias": bias, ...}`` (copies), in layer order."""
    _require_built(model, "state_dict")
    out = {}
    for i, layer in enumerate(model.layers):
        for name, array in zip(_torch_names(layer), layer.get_weights()):
            out[f"{i}.{name}"] = array
    return out


def _as_array(key: str, value) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu().numpy()
    a = np.asarray(value)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"load_state_dict: {key!r} must be a numeric array, got {a.dtype}")
    return a


def _groups(mapping: Mapping) -> dict[str, dict[str, object]]:
    groups: dict[str, dict[str, object]] = {}
    for key, value in mapping.items():
        if not isinstance(key, str) or "." not in key:
            raise ValueError(f"load_state_dict: key {key!r} is not of the form 'layer.weight'")
        prefix, _, name = key.rpartition(".")
        groups.setdefault(prefix, {})[name] = value
    return groups


def _layer_for(model, prefix: str) -> int | None:
    if prefix.isdigit() and int(prefix) < len(model.layers):
        return int(prefix)
    for i, layer in enumerate(model.layers):
        if layer.name == prefix:
            return i
    return None


def _assign(model, groups, match: str, strict: bool) -> dict[int, str]:
    weighted = [i for i, layer in enumerate(model.layers) if _has_tensors(layer)]
    if match == "order":
        if strict and len(groups) != len(weighted):
            raise ValueError(
                f"load_state_dict(match='order'): the mapping has "
                f"{len(groups)} layers ({', '.join(groups)}), the model "
                f"{len(weighted)} with weights"
            )
        return dict(zip(weighted, groups))
    assigned, unknown = {}, []
    for prefix in groups:
        i = _layer_for(model, prefix)
        if i is None or not _has_tensors(model.layers[i]):
            unknown.append(prefix)
        else:
            assigned[i] = prefix
    if strict and unknown:
        raise ValueError(
            f"load_state_dict: no layer with weights for {unknown} (prefixes are "
            "layer indices or names; match='order' assigns by position)"
        )
    return assigned


def load_state_dict(model, mapping, strict: bool = True, match: str = "name") -> None:
    """Sets the weights from ``{name: array}`` (or a ``.safetensors`` path); see the module doc.

    ``strict``: every layer with weights must be given all of them and every key used.
    Shapes are checked before anything is written.
    """
    _require_built(model, "load_state_dict")
    if match not in ("name", "order"):
        raise ValueError(f"load_state_dict: match must be 'name' or 'order', got {match!r}")
    if isinstance(mapping, (str, os.PathLike)):
        from .safetensors import load_file

        mapping = load_file(mapping)
    if not isinstance(mapping, Mapping):
        raise TypeError(f"load_state_dict: expected a mapping or a path, got {type(mapping)}")
    groups = _groups(mapping)
    assigned = _assign(model, groups, match, strict)
    updates = []
    for i, prefix in assigned.items():
        layer, given = model.layers[i], groups[prefix]
        names = _torch_names(layer)
        extra = set(given) - set(names)
        if strict and (extra or set(names) - set(given)):
            raise ValueError(
                f"load_state_dict: layer {i} {layer.name!r} needs "
                f"{[f'{prefix}.{n}' for n in names]}, got "
                f"{[f'{prefix}.{n}' for n in given]}"
            )
        arrays = [np.asarray(w) for w in layer.get_weights()]
        for slot, name in enumerate(names):
            if name in given:
                a = _as_array(f"{prefix}.{name}", given[name])
                if a.shape != arrays[slot].shape:
                    raise ValueError(
                        f"load_state_dict: {prefix}.{name} has shape {a.shape}; "
                        f"layer {i} {layer.name!r} needs {arrays[slot].shape}"
                    )
                arrays[slot] = a
        updates.append((layer, arrays))
    if strict and len(assigned) < sum(1 for layer in model.layers if _has_tensors(layer)):
        missing = [
            layer.name
            for i, layer in enumerate(model.layers)
            if _has_tensors(layer) and i not in assigned
        ]
        raise ValueError(f"load_state_dict: no weights given for layers {missing}")
    for layer, arrays in updates:
        layer.set_weights(arrays)


# ---- Keras ----------------------------------------------------------------------------------


def _flatten_source(model, index: int) -> tuple[int, ...] | None:
    """(C, H, W) if layer ``index`` is the first Dense after a Flatten of images."""
    for j in range(index - 1, -1, -1):
        layer = model.layers[j]
        if isinstance(layer, L.Flatten):
            shape = layer.built_input_shape
            return shape if shape is not None and len(shape) == 3 else None
        if _has_tensors(layer) or not isinstance(layer, (L.Dropout, L.Activation)):
            return None
    return None


def _keras_dense(model, index: int, arrays: list[np.ndarray]) -> list[np.ndarray]:
    kernel = np.asarray(arrays[0])
    layer = model.layers[index]
    if kernel.ndim != 2 or kernel.shape[::-1] != tuple(layer.weights[0].shape):
        raise ValueError(
            f"load_keras_weights: layer {index} {layer.name!r} (Dense) needs a "
            f"Keras kernel of shape {tuple(layer.weights[0].shape)[::-1]} "
            f"(in, out), got {kernel.shape}"
        )
    chw = _flatten_source(model, index)
    if chw is not None:  # Keras flattened (h, w, c); pocketcnn flattens (c, h, w)
        c, h, w = chw
        kernel = kernel.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(c * h * w, -1)
    return [kernel.T, *arrays[1:]]


def _keras_conv(model, index: int, arrays: list[np.ndarray]) -> list[np.ndarray]:
    kernel = np.asarray(arrays[0])
    layer = model.layers[index]
    k, c, r, s = layer.weights[0].shape
    if kernel.shape != (r, s, c, k):
        raise ValueError(
            f"load_keras_weights: layer {index} {layer.name!r} (Conv2D) needs a "
            f"Keras kernel of shape {(r, s, c, k)} (HWIO), got {kernel.shape}"
        )
    return [kernel.transpose(3, 2, 0, 1), *arrays[1:]]


# Per layer class: Keras arrays -> pocketcnn arrays; classes not listed take them unchanged.
KERAS_CONVERTERS: dict[str, Callable[[object, int, list], list]] = {
    "Conv2D": _keras_conv,
    "Dense": _keras_dense,
}


def keras_to_pocketcnn(model, weights) -> list[np.ndarray]:
    """A Keras ``model.get_weights()`` list (same layers, same order) in pocketcnn's layouts."""
    _require_built(model, "set_weights")
    weights = list(weights)
    total = sum(len(layer.get_weights()) for layer in model.layers)
    if len(weights) != total:
        raise ValueError(f"load_keras_weights: expected {total} arrays, got {len(weights)}")
    out: list[np.ndarray] = []
    pos = 0
    for i, layer in enumerate(model.layers):
        n = len(layer.get_weights())  # weights, then state (Keras orders them the same way)
        arrays = weights[pos : pos + n]
        pos += n
        if n:
            convert = KERAS_CONVERTERS.get(type(layer).__name__)
            out.extend(convert(model, i, arrays) if convert else arrays)
    return out


def load_keras_weights(model, weights) -> None:
    """Sets ``model``'s weights from a Keras ``get_weights()`` list (see the module doc)."""
    model.set_weights(keras_to_pocketcnn(model, weights))
