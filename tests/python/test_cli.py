"""The pocketcnn command: train (on a Fashion-MNIST subset here) and evaluate."""

import subprocess
import sys

import numpy as np
import pytest

import pocketcnn as pc
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


def test_viz_writes_every_picture_from_a_trained_model(fashion_mnist, tmp_path, capsys):
    Image = pytest.importorskip("PIL.Image")
    model_file = tmp_path / "m.pcnn"
    args = ["train", "--epochs", "2", "--limit-train", "256", "--limit-test", "64"]
    assert cli.main([*args, "--out", str(model_file)]) == 0
    assert pc.load_model(model_file).history.history["loss"][1] > 0  # the History is saved
    capsys.readouterr()
    out = tmp_path / "viz"
    assert (
        cli.main(["viz", str(model_file), "--out", str(out), "--steps", "5", "--count", "2"]) == 0
    )
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            "curves.png",
            "features_input.png",
            "features_conv2d.png",
            "features_max_pool2d.png",
            "features_conv2d_1.png",
            "features_max_pool2d_1.png",
            "filters_conv2d.png",
            "filters_conv2d_1.png",
            "maximize_classes.png",
            "maximize_conv2d_1.png",
            "saliency.png",
        ]
    ), names
    for p in out.iterdir():
        with Image.open(p) as im:
            a = np.asarray(im)
        assert a.size > 0 and a.std() > 0, p.name  # a real picture, not blank
    # filters of conv 1 (25 kernels 3x3): a 5x5 grid of 4-pixel cells + 1, enlarged 8 times.
    with Image.open(out / "filters_conv2d.png") as im:
        assert im.size == (21 * 8, 21 * 8)


def test_viz_of_an_untrained_model_has_no_curves(tmp_path, capsys):
    pytest.importorskip("PIL.Image")
    model = pc.presets.lecture()
    model.save(tmp_path / "fresh.pcnn")
    code = cli.main(
        ["viz", str(tmp_path / "fresh.pcnn"), "--what", "curves", "--out", str(tmp_path)]
    )
    assert code == 2 and "no training history" in capsys.readouterr().err
