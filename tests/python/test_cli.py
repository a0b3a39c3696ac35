"""The pocketcnn command: train (on a Fashion-MNIST subset here) and evaluate."""

import subprocess
import sys

import pocketcnn as pc
import pytest
from pocketcnn import cli


def test_train_then_evaluate(fashion_mnist, tmp_path, capsys):
    out = tmp_path / "lecture.pcnn"
    args = ["train", "--epochs", "1", "--limit-train", "256", "--limit-test", "128"]
    assert cli.main([*args, "--batch-size", "64", "--out", str(out), "--threads", "1"]) == 0
    text = capsys.readouterr().out
    assert "Total params: 137,660" in text and "Epoch 1/1" in text
    assert "Test accuracy: " in text and f"Saved the model to {out}" in text
    model = pc.load_model(out)
    assert model.count_params() == 137660 and model.epochs_trained == 1
    assert cli.main(["evaluate", str(out), "--limit-test", "128"]) == 0
    assert "test accuracy" in capsys.readouterr().out


def test_missing_data_is_a_clear_error(tmp_path, capsys):
    assert cli.main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert "apt-get install dataset-fashion-mnist" in err


def test_evaluate_a_file_that_is_not_a_model(tmp_path, capsys):
    bad = tmp_path / "x.pcnn"
    bad.write_text("not a model")
    assert cli.main(["evaluate", str(bad)]) == 2
    assert "not a pocketcnn model file" in capsys.readouterr().err


def test_help_lists_subcommands():
    result = subprocess.run(
        [sys.executable, "-m", "pocketcnn.cli", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "train" in result.stdout and "evaluate" in result.stdout
    with pytest.raises(SystemExit):
        cli.main(["train", "--epochs", "0"])
