"""Each network that the tests' own notebook runs fit, trained once per test run.

`make test` runs the instructor notebooks more than once: nbval runs each, and
``nbgrader validate`` runs it again (`tests/test_validate.py`). So that the quiz's experiment
and the lab's network are trained once per run, those tests (nbval's, and the files that set
``KEEPS_FITS``) start their kernels with this file (an IPython start-up file in a folder of
the run's, `begin` and `use`):

* Python's and NumPy's random numbers are seeded, so the same notebook builds the same
  networks with the same first weights;
* once Keras is imported, ``keras.Model.fit`` first looks in a folder the run shares for the
  same fit: the same Keras, architecture, compile settings, weights (the optimiser's too),
  arrays (their bytes), other arguments (``verbose`` aside) and random numbers' state. The
  first kernel to make it trains (another waits on its lock) and keeps the weights, the
  optimiser's state, the history and the random numbers' state after it; the next kernel is
  given these, as if it had trained. A fit with callbacks, a generator or any other argument
  trains as usual.

The grader's kernels never use it: their environment is the sandbox's allow-list (its own
``IPYTHONDIR``, no `FOLDER`), and under ``nbgrader autograde`` the hook stays off. Graded
submissions train for real. The run's summary counts what was trained and given again.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

FOLDER = "COURSE_KIT_TEST_FITS"  # the run's folder of kept fits
SEED = 20261205
LOG = "fits.log"
_STARTUP = """def _course_kit_fits():
    import importlib.util

    spec = importlib.util.spec_from_file_location("course_kit_test_fits", {path!r})
    module = importlib.util.module_from_spec(spec)
    try:  # a kernel of another environment (without NumPy) starts as usual
        spec.loader.exec_module(module)
    except ImportError:
        return
    module.start()


_course_kit_fits()
del _course_kit_fits
"""


def begin() -> Path | None:
    """Make the run's folder (kept fits, and an IPython folder with the start-up file) and name
    it in this process's environment, for pytest's workers; None where a run above this one
    did already. Only the tests that `use` it start their kernels with it."""
    if os.environ.get(FOLDER):
        return None
    folder = Path(tempfile.mkdtemp(prefix="course-kit-fits-"))
    startup = folder / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-course-kit-fits.py").write_text(_STARTUP.format(path=__file__))
    os.environ[FOLDER] = str(folder)
    return folder


_OWN_IPYTHONDIR = os.environ.get("IPYTHONDIR")  # this process's own, put back by `use(False)`


def use(on: bool) -> None:
    """Start this process's next kernels with the run's IPython folder (`on`), or with its own.

    Only for the tests' own kernels, which run as this user: the folder is this user's alone,
    and a process of another user (a grader run as an ordinary user) would find it unreadable.
    """
    folder = os.environ.get(FOLDER)
    if not folder:
        return
    mine = str(Path(folder) / "ipython")
    if on:
        os.environ["IPYTHONDIR"] = mine
    elif os.environ.get("IPYTHONDIR") == mine:
        if _OWN_IPYTHONDIR is None:
            del os.environ["IPYTHONDIR"]
        else:
            os.environ["IPYTHONDIR"] = _OWN_IPYTHONDIR


def summary(folder: Path) -> str:
    """One line: how many fits were trained and how many given again."""
    lines = (folder / LOG).read_text().split() if (folder / LOG).exists() else []
    counts = {word: lines.count(word) for word in ("trained", "given", "unkept")}
    return (
        f"networks fitted by the tests' own kernels: {counts['trained']} trained, "
        f"{counts['given']} given again, {counts['unkept']} trained without keeping "
        "(tests/support/fits.py)"
    )


def end(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def start() -> None:
    """In a kernel's start-up: seed, and keep fits once Keras is imported (not when grading)."""
    if not os.environ.get(FOLDER) or os.environ.get("NBGRADER_EXECUTION") == "autograde":
        return
    random.seed(SEED)
    np.random.seed(SEED)
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    state = {"done": False}

    def when_imported(*_: object) -> None:
        if not state["done"] and "keras" in sys.modules:
            state["done"] = True
            _patch(Path(os.environ[FOLDER]))

    shell.events.register("pre_run_cell", when_imported)


@contextlib.contextmanager
def kept(folder: Path) -> Iterator[None]:
    """``keras.Model.fit`` keeps its fits in `folder` inside the block (the tests' own check)."""
    import keras

    original = keras.Model.fit
    _patch(folder)
    try:
        yield
    finally:
        keras.Model.fit = original  # type: ignore[method-assign]


def _patch(folder: Path) -> None:
    import keras

    original = keras.Model.fit

    def fit(self: keras.Model, *args: Any, **kwargs: Any) -> Any:
        key = _key(self, args, kwargs)
        if key is None:
            _log(folder, "unkept")
            return original(self, *args, **kwargs)
        with open(folder / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (folder / key).is_dir() and (history := _give(self, folder / key)) is not None:
                _log(folder, "given")
                return history
            history = original(self, *args, **kwargs)
            try:
                _keep(self, history, folder / key)
            except (OSError, TypeError, ValueError):  # trained all the same; the next trains too
                _log(folder, "unkept")
            else:
                _log(folder, "trained")
            return history

    keras.Model.fit = fit  # type: ignore[method-assign]


def _log(folder: Path, outcome: str) -> None:
    with open(folder / LOG, "a") as log:
        log.write(f"{outcome}\n")


def _key(model: Any, args: tuple, kwargs: dict) -> str | None:
    """What decides the fit's result, as a digest; None where something cannot be read
    (callbacks, a generator, an unbuilt model)."""
    import keras

    if kwargs.get("callbacks") or not model.built or model.optimizer is None:
        return None
    digest = hashlib.sha256()

    def add(value: Any) -> bool:
        if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
            digest.update(f"array {value.dtype.str} {value.shape}".encode())
            digest.update(np.ascontiguousarray(value).tobytes())
            return True
        if value is None or isinstance(value, (bool, int, float, str)):
            digest.update(f"{type(value).__name__} {value!r};".encode())
            return True
        if isinstance(value, (tuple, list)):
            digest.update(b"(")
            done = all(add(item) for item in value)
            digest.update(b")")
            return done
        return False

    named = [(k, v) for k, v in sorted(kwargs.items()) if k != "verbose"]
    if not all(add(value) for value in args) or not all(add(item) for item in named):
        return None
    digest.update(keras.__version__.encode() + model.to_json().encode())
    compiled = json.dumps(model.get_compile_config(), sort_keys=True, default=repr)
    digest.update(compiled.encode())
    add(model.get_weights())
    if model.optimizer.built:
        add([v.numpy() for v in model.optimizer.variables])
    digest.update(repr(random.getstate()).encode())
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    add([kind, keys, position, has_gauss, gauss])
    return digest.hexdigest()[:40]


def _keep(model: Any, history: Any, entry: Path) -> None:
    weights = model.get_weights()
    arrays = {f"w{i}": w for i, w in enumerate(weights)}
    variables = [v.numpy() for v in model.optimizer.variables]
    arrays.update({f"o{i}": v for i, v in enumerate(variables)})
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    arrays["numpy"] = keys
    meta = {
        "weights": len(weights),
        "optimizer": len(variables),
        "history": history.history,
        "params": history.params,
        "epoch": history.epoch,
        "random": random.getstate(),
        "numpy": [kind, position, has_gauss, gauss],
    }
    work = Path(tempfile.mkdtemp(dir=entry.parent))
    np.savez(work / "arrays.npz", **arrays)
    (work / "meta.json").write_text(json.dumps(meta, default=float))
    work.rename(entry)


def _give(model: Any, entry: Path) -> Any:
    """The kept fit's result on `model`, and its History; None where it does not fit."""
    import keras

    try:
        meta = json.loads((entry / "meta.json").read_text())
        with np.load(entry / "arrays.npz", allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except (OSError, ValueError):
        return None
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    if len(optimizer.variables) != meta["optimizer"] or len(model.weights) != meta["weights"]:
        return None
    model.set_weights([arrays[f"w{i}"] for i in range(meta["weights"])])
    for i, variable in enumerate(optimizer.variables):
        variable.assign(arrays[f"o{i}"])
    version, keys, gauss = meta["random"]
    random.setstate((version, tuple(keys), gauss))
    kind, position, has_gauss, cached = meta["numpy"]
    np.random.set_state((kind, arrays["numpy"], position, has_gauss, cached))
    history = keras.callbacks.History()
    history.set_model(model)
    history.params, history.epoch, history.history = meta["params"], meta["epoch"], meta["history"]
    model.history = history
    return history
