"""Per-step inference time of a functional Model's graph plan (plan_steps.py's view of graph
networks): the plan is built as Model.predict builds it (_graph_inference), recording each step
and the layers it covers; then every step runs alone on its real input values (those the whole
plan computes), so a chain's time is its layers' (BatchNorm folded, conv + ReLU fused) and a
sum's is its pass (Add + ReLU: one). The last line compares the steps' total with the plan's.
"""

from __future__ import annotations

from typing import Any

from common import median_time

import pocketcnn as pc
from pocketcnn import _core
from pocketcnn._graph_inference import _Builder


class _Recorder:
    """Stands in for _core._GraphPlan in the builder: forwards every step and remembers it
    (kind, input slots, the chain or the activation, the layer names it covers)."""

    def __init__(self, builder: _Builder):
        self.builder = builder
        self.plan: Any = _core._GraphPlan()  # type: ignore[attr-defined]
        self.steps: list[tuple[str, list[int], Any, list[str]]] = []
        self.named: set[int] = set()

    def _names(self) -> list[str]:
        new = [
            c for c in self.builder.calls if id(c) in self.builder.done and id(c) not in self.named
        ]
        self.named.update(id(c) for c in new)
        return [c.layer.name for c in new]

    def add_chain(self, source: int, chain) -> int:
        self.steps.append(("chain", [source], chain, self._names()))
        return self.plan.add_chain(source, chain)

    def add_sum(self, inputs: list[int], act: str) -> int:
        self.steps.append(("sum", list(inputs), act, self._names()))
        return self.plan.add_sum(inputs, act)

    def add_concat(self, inputs: list[int], dim: int) -> int:
        self.steps.append(("concat", list(inputs), dim, self._names()))
        return self.plan.add_concat(inputs, dim)

    def set_output(self, slot: int) -> None:
        self.plan.set_output(slot)


def record(model) -> _Recorder:
    builder = _Builder(model, logits=False)
    rec = _Recorder(builder)
    builder.plan = rec
    if builder.run() is None:
        raise SystemExit(f"{model.name}: a layer has no graph-plan step (it runs in Python)")
    return rec


def slot_values(rec: _Recorder, x) -> list:
    """Every slot's value for input x: the plan run with each slot as its output."""
    values = [pc.Tensor(x)]
    for slot in range(1, len(rec.steps) + 1):
        rec.plan.set_output(slot)
        values.append(rec.plan.run(x))
    return values


def step_runner(kind: str, inputs: list[int], arg, values: list):
    ins = [values[i] for i in inputs]
    if kind == "chain":
        return lambda: arg.run(ins[0])
    if kind == "concat":
        return lambda: _core.concat(ins, arg)
    if arg == "relu" and len(ins) == 2:
        return lambda: _core.add_relu(ins[0], ins[1])  # the plan's merge_sum pass, allocating
    if arg == "" and len(ins) == 2:
        return lambda: _core.add(ins[0], ins[1])
    raise SystemExit(f"no timing for a sum of {len(ins)} inputs with activation {arg!r}")


def report(net, model, x, min_time: float) -> None:
    rec = record(model)
    values = slot_values(rec, x)
    n = len(x)
    total = 0.0
    print(f"{net.name}, batch {n}, {pc.get_num_threads()} thread(s), us per image, per plan step")
    for i, (kind, inputs, arg, names) in enumerate(rec.steps, 1):
        t = median_time(step_runner(kind, inputs, arg, values), min_time) / n * 1e6
        total += t
        what = f"{kind}({','.join(map(str, inputs))})" + (f" {arg}" if kind == "sum" else "")
        print(f"{i:2d} {what:16s} {t:8.2f}  {' '.join(names)}")
    rec.plan.set_output(len(rec.steps))
    whole = median_time(lambda: rec.plan.run(x), min_time) / n * 1e6
    print(
        f"steps' total {total:8.2f}, whole plan {whole:8.2f}, predict "
        f"{median_time(lambda: model.predict(x, batch_size=n), min_time) / n * 1e6:8.2f}"
    )
