"""pocketcnn._checks: the argument checks the layers, ops, model and data share."""

import numpy as np
import pytest

from pocketcnn import _checks


def test_integer_takes_python_and_numpy_ints_but_not_bools_or_floats():
    assert _checks.integer(3, "n") == 3 and type(_checks.integer(np.int64(3), "n")) is int
    for bad in (True, 3.0, "3", None):
        with pytest.raises(TypeError, match=r"^n must be an int, got"):
            _checks.integer(bad, "n")
    with pytest.raises(ValueError, match=r"fit: batch_size must be >= 1, got 0"):
        _checks.integer(0, "fit: batch_size", minimum=1)


def test_int_at_least_is_one_value_error():
    assert _checks.int_at_least(0, "seed", 0) == 0
    for bad in (0, False, 2.0):
        with pytest.raises(ValueError, match=r"Dense: units must be an int >= 1, got"):
            _checks.int_at_least(bad, "Dense: units")


def test_int_pair():
    assert _checks.int_pair(3, "k", minimum=1) == (3, 3)
    assert _checks.int_pair([2, np.int32(5)], "k", minimum=1) == (2, 5)
    for bad in (True, (1, True), (1, 2, 3), (1.0, 2), "2"):
        with pytest.raises(TypeError, match="k must be an int or a pair of ints"):
            _checks.int_pair(bad, "k", minimum=1)
    with pytest.raises(ValueError, match=r"stride must be >= 1, got \(0, 1\)"):
        _checks.int_pair((0, 1), "stride", minimum=1)


def test_numbers():
    assert _checks.finite_number(0, "l2") == 0.0
    assert _checks.finite_number(1e-3, "lr", positive=True) == 1e-3
    with pytest.raises(TypeError, match="lr must be a number"):
        _checks.finite_number(True, "lr", positive=True)
    for bad in (0.0, float("inf"), float("nan"), -1):
        with pytest.raises(ValueError, match="lr must be a finite number > 0"):
            _checks.finite_number(bad, "lr", positive=True)
    assert _checks.number_in_unit_interval(0.5, "rate") == 0.5
    for bad in (1.0, -0.1, True, "0.5"):
        with pytest.raises(ValueError, match=r"rate must be a number in \[0, 1\)"):
            _checks.number_in_unit_interval(bad, "rate")


def test_shape_and_numeric_array():
    assert _checks.shape(4, "input_shape") == (4,)
    assert _checks.shape([1, 28, 28], "input_shape") == (1, 28, 28)
    with pytest.raises(TypeError, match="input_shape must be a tuple of ints"):
        _checks.shape(None, "input_shape")
    with pytest.raises(ValueError, match="all sizes >= 1"):
        _checks.shape((1, 0), "input_shape")
    assert _checks.numeric_array([1, 2], "x").dtype.kind == "i"
    with pytest.raises(TypeError, match="x must be numeric, got dtype <U1"):
        _checks.numeric_array(["a"], "x")
