"""ONNX export and import, with no dependency (pocketcnn writes and reads the protobuf itself).

``pc.onnx.export(model, path, opset=17)`` writes a built Sequential model (input ``"input"``,
NCHW float32 with a dynamic batch dimension, output ``"output"``); ``pc.onnx.load(path)`` reads
a linear chain of Conv, MaxPool, AveragePool, GlobalAveragePool/GlobalMaxPool, Flatten, Reshape
to (batch, features), Gemm, MatMul (+ Add), Relu, Sigmoid, Tanh, Softmax (axis 1), LeakyRelu, Elu,
Softplus, HardSigmoid (alpha 1/6, beta 0.5), Gelu (opset 20, exact), Dropout, Identity and
BatchNormalization (folded into the Conv/Gemm before it) into a Sequential model. Export writes
silu as Sigmoid + Mul and, before opset 20, gelu as 0.5 x (1 + Erf(x / sqrt 2)); those two-input
patterns are branches, which load does not read yet.
Anything else raises :class:`OnnxError` naming the node, the op and the attribute. Files are
untrusted: size-limited (``max_bytes``), every declared length checked before use, external
data read only from regular files inside the model's folder.

Adding a layer: one ``@exporter("LayerClass")`` function in ``_export.py`` and one
``@importer("OpType")`` function in ``_import_ops.py``.
"""

from ._chain import IMPORTERS, importer
from ._errors import OnnxError
from ._export import EXPORTERS, export, exporter
from ._import import load

__all__ = ["EXPORTERS", "IMPORTERS", "OnnxError", "export", "exporter", "importer", "load"]
