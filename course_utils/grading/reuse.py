"""Models the judge rebuilt, given again to a later test that reads the same model unchanged.

In the student's kernel every test reads the same ``model`` object. The judge fetches each
test's names afresh (`course_utils.grading.judge`), so each test would rebuild the model from
its description and trace its prediction again. Instead, the judge keeps the last models it
rebuilt, by their architecture and compile settings as the notebook's kernel described them,
and gives a later test the kept model when the weights the kernel now sends are equal to the
kept model's own and nothing a test did since changed it: how it is compiled, which layers
train, its optimiser's step count. Anything else is rebuilt from what the kernel sent. A judge
serves one submission: nothing is kept from another.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from course_utils.grading.wire import Answer, Refused

#: models kept at once (the lab's tests read two: untrained, then trained)
MAX_KEPT = 4

_KEPT: dict[str, tuple[Any, str, list[str]]] = {}


def _key(node: dict[str, Any]) -> str:
    described = [node.get(name) for name in ("config", "compile", "compile_error")]
    return hashlib.sha256(json.dumps(described, default=str).encode()).hexdigest()


def _state(model: Any) -> str:
    """What a test may change in a model besides its weights, as text."""
    import numpy as np

    optimizer = getattr(model, "optimizer", None)
    steps = getattr(optimizer, "iterations", None)
    compiled = model.get_compile_config() if getattr(model, "compiled", False) else None
    return json.dumps(
        [
            compiled,
            [bool(layer.trainable) for layer in model.layers],
            bool(model.trainable),
            None if steps is None else np.asarray(steps).tolist(),
        ],
        default=repr,
        sort_keys=True,
    )


def find(node: dict[str, Any], answer: Answer) -> tuple[Any, list[str]] | None:
    """The kept model `node` describes, with the notes its rebuilding gave, when the weights in
    `answer` are its own and nothing changed it since it was kept; None otherwise."""
    kept = _KEPT.get(_key(node))
    if kept is None:
        return None
    model, state, notes = kept
    files = node.get("weights")
    expected = [tuple(int(d) for d in w.shape) for w in model.weights]
    if not isinstance(files, list) or len(files) != len(expected):
        return None
    try:
        if [answer.shape(f) for f in files] != expected:
            return None
        arrays = [answer.array(f) for f in files]
    except Refused:  # rebuilt, and refused there with its reason
        return None
    import numpy as np

    if _state(model) != state:
        return None
    if not all(np.array_equal(a, w) for a, w in zip(arrays, model.get_weights(), strict=True)):
        return None
    return model, notes


def keep(node: dict[str, Any], model: Any, notes: list[str]) -> None:
    """Keep `model`, rebuilt from `node` with `notes`, for later tests (the oldest makes room)."""
    key = _key(node)
    _KEPT.pop(key, None)
    while len(_KEPT) >= MAX_KEPT:
        del _KEPT[next(iter(_KEPT))]
    _KEPT[key] = (model, _state(model), list(notes))
