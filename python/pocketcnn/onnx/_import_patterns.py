"""Op patterns that exporters write for one activation, recognised before ``pc.onnx.load``
imports the nodes: ``y = Mul(x, Sigmoid(x))`` is SiLU (what ``torch.onnx.export`` writes for
``nn.SiLU`` below opset 22, and pocketcnn's own export of ``activation="silu"``).

The pair becomes the Mul node alone, reading only x and marked as SiLU (a key the protobuf
decoder never writes, so no file can set it); the ``Mul`` importer accepts only that form.
"""

from __future__ import annotations

from collections import Counter

from ._chain import Chain, Node, importer

SILU_MARK = "_pocketcnn_silu"


def fuse_silu(graph: dict) -> None:
    """Rewrites graph["node"] in place: each Sigmoid whose output only a Mul by the Sigmoid's
    own input reads is folded into that Mul."""
    nodes = graph["node"]
    reads = Counter(name for n in nodes for name in n["input"] if name)
    reads.update(v.get("name") for v in graph["output"])
    sigmoid_of = {  # the Sigmoid's output -> (its index, its input)
        n["output"][0]: (i, n["input"][0])
        for i, n in enumerate(nodes)
        if n.get("op_type") == "Sigmoid" and not n.get("domain") and len(n["input"]) == 1
        and len(n["output"]) == 1 and n["input"][0]
    }  # fmt: skip
    dropped = set()
    for n in nodes:
        if n.get("op_type") != "Mul" or n.get("domain") or len(n["input"]) != 2:
            continue
        a, b = n["input"]
        for s, x in ((a, b), (b, a)):
            if s in sigmoid_of and sigmoid_of[s][1] == x and reads[s] == 1:
                dropped.add(sigmoid_of[s][0])
                n["input"] = [x]
                n[SILU_MARK] = True
                break
    graph["node"] = [n for i, n in enumerate(nodes) if i not in dropped]


@importer("Mul")
def _silu(chain: Chain, node: Node) -> None:
    if not node.silu:
        raise node.error(
            "op 'Mul' is supported only as x * Sigmoid(x) (SiLU); other products are not"
        )
    node.attributes()
    chain.activation(node, "silu")
