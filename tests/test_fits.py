"""The tests' kept fits (`support.fits`): the same fit is trained once and given again exactly
as it ended; any change to what decides it trains anew; the grader's kernels never see it."""

from __future__ import annotations

import os
import random
from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from course_utils.grading.sandbox import PASSED
from support import fits
from support.paths import ROOT

KEEPS_FITS = True  # its kernels start with the run's IPython folder

X = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
Y = keras.utils.to_categorical(np.arange(64) % 3, 3)


def _fitted(folder, y=Y, epochs=2, optimizer="adam"):
    """A small network built after seeding, fitted with fits kept in `folder`: (model, history,
    the random numbers' state after, the log so far)."""
    keras.backend.clear_session()  # the layers' names start again, as in a new kernel
    random.seed(fits.SEED)
    np.random.seed(7)
    model = _network(optimizer)
    with fits.kept(folder):
        history = model.fit(X, y, epochs=epochs, batch_size=16, verbose=0)
    np.random.random()  # a fit given again leaves NumPy's numbers where training left them
    after = (random.random(), np.random.random())
    return model, history, after, (folder / fits.LOG).read_text().split()


def _network(optimizer):
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(5, activation="relu"), keras.layers.Dense(3)]
    )
    model.compile(optimizer=optimizer, loss=keras.losses.CategoricalCrossentropy(True))
    return model


def test_the_same_fit_is_given_again_as_it_ended(tmp_path):
    first, history, after, log = _fitted(tmp_path)
    assert log == ["trained"]
    again, history_again, after_again, log = _fitted(tmp_path)
    assert log == ["trained", "given"]
    for trained, given in zip(first.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(trained, given)
    for trained, given in zip(first.optimizer.variables, again.optimizer.variables, strict=True):
        np.testing.assert_array_equal(trained.numpy(), given.numpy())
    assert int(again.optimizer.iterations) == 2 * 4
    assert history_again.history == history.history and history_again.epoch == [0, 1]
    assert history_again.model is again and again.history is history_again
    assert after_again == after
    np.testing.assert_array_equal(again.predict(X, verbose=0), first.predict(X, verbose=0))
    assert "1 trained, 1 given again" in fits.summary(tmp_path)


@pytest.mark.parametrize(
    "change",
    [{"y": Y[::-1].copy()}, {"epochs": 3}, {"optimizer": "sgd"}],
    ids=["other labels", "more epochs", "another optimiser"],
)
def test_anything_that_decides_the_fit_trains_anew(tmp_path, change):
    _fitted(tmp_path)
    *_, log = _fitted(tmp_path, **change)
    assert log == ["trained", "trained"]


def test_other_first_weights_and_a_second_fit_train_anew(tmp_path):
    _fitted(tmp_path)
    keras.backend.clear_session()
    random.seed(1)  # another seed: the same network with other first weights
    np.random.seed(7)
    model = _network("adam")
    with fits.kept(tmp_path):
        model.fit(X, Y, epochs=2, batch_size=16, verbose=0)
        model.fit(X, Y, epochs=2, batch_size=16, verbose=0)  # goes on from the first's end
    assert (tmp_path / fits.LOG).read_text().split() == ["trained"] * 3


def test_a_fit_with_callbacks_trains_without_keeping(tmp_path):
    model = _network("adam")
    seen = []
    callback = keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: seen.append(1))
    with fits.kept(tmp_path):
        model.fit(X, Y, epochs=2, verbose=0, callbacks=[callback])
    assert seen == [1, 1]
    assert (tmp_path / fits.LOG).read_text().split() == ["unkept"]


NOTEBOOK = [
    "import keras\nimport numpy as np",
    "model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])\n"
    "model.compile(optimizer='adam', loss='mse')\n"
    "history = model.fit(np.ones((8, 4)), np.zeros((8, 2)), epochs=2, verbose=0)\n"
    "print(repr(np.concatenate([w.ravel() for w in model.get_weights()]).tolist()))",
]


def _run_kernel(folder: Path, execution: str | None) -> str:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in NOTEBOOK])
    env = {**os.environ, fits.FOLDER: str(folder)}
    env.pop("NBGRADER_EXECUTION", None)
    if execution:
        env["NBGRADER_EXECUTION"] = execution
    NotebookClient(nb, timeout=120, kernel_name="python3").execute(env=env)
    return nb.cells[1].outputs[0].text


def test_kernels_the_tests_start_keep_fits_and_the_graders_never_do(tmp_path, monkeypatch):
    made = Path(os.environ["IPYTHONDIR"]) / "profile_default" / "startup"
    assert str(ROOT / "tests" / "support" / "fits.py") in next(made.glob("*.py")).read_text()
    first, again = _run_kernel(tmp_path, None), _run_kernel(tmp_path, "validate")
    assert (tmp_path / fits.LOG).read_text().split() == ["trained", "given"]
    assert first == again  # seeded: the same first weights, so the kept fit's end
    assert fits.FOLDER not in PASSED and "IPYTHONDIR" not in PASSED  # the grader's kernels
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")  # as plain nbgrader autograde
    state = random.getstate()
    fits.start()
    assert random.getstate() == state  # not seeded, so nothing patched either


def test_only_the_tests_that_keep_fits_start_kernels_with_it():
    """Nbval's and the files that set KEEPS_FITS; a grader run as another user by any other
    test would find the folder unreadable (tests/conftest.py)."""
    mine = str(Path(os.environ[fits.FOLDER]) / "ipython")
    assert os.environ["IPYTHONDIR"] == mine
    fits.use(False)
    try:
        assert os.environ.get("IPYTHONDIR") != mine
    finally:
        fits.use(True)
    assert os.environ["IPYTHONDIR"] == mine
