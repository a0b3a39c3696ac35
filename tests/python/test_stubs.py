"""The shipped type stubs (_core.pyi) name exactly what the compiled module offers."""

import ast
import importlib.resources

import pocketcnn as pc
from pocketcnn import _core


def _stub_tree():
    text = importlib.resources.files("pocketcnn").joinpath("_core.pyi").read_text()
    return ast.parse(text)


def test_stubs_are_installed_with_py_typed():
    assert importlib.resources.files("pocketcnn").joinpath("py.typed").is_file()


def test_every_core_function_has_a_stub_and_no_stub_is_stale():
    tree = _stub_tree()
    stubbed = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    public = {n for n in dir(_core) if not n.startswith("_")}
    assert stubbed == public, (
        f"missing stubs: {sorted(public - stubbed)}, stale stubs: {sorted(stubbed - public)}; "
        "regenerate python/pocketcnn/_core.pyi with .ci/gen-stubs"
    )


def test_every_tensor_method_has_a_stub():
    tree = _stub_tree()
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Tensor")
    stubbed = {n.name for n in cls.body if isinstance(n, ast.FunctionDef)}
    public = {n for n in vars(pc.Tensor) if not n.startswith("_") or n in ("__add__", "__neg__")}
    assert public - stubbed == set(), f"Tensor methods without stubs: {sorted(public - stubbed)}"
