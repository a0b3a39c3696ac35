"""The one exception ``pc.onnx`` raises for files it cannot read or models it cannot convert."""


class OnnxError(ValueError):
    """An ONNX file is malformed, exceeds a limit, or uses an op/attribute pocketcnn lacks."""
