"""Models the judge rebuilt, given again to a later test that reads the same model unchanged.

In the student's kernel every test reads the same ``model`` object. The judge fetches each
test's names afresh (`course_utils.grading.judge`), so each test would rebuild the model from
its description and trace its prediction again. Instead, the judge keeps the last models it
rebuilt, by their architecture and compile settings as the notebook's kernel described them,
and gives a later test the kept model when the weights the kernel now sends are equal to the
kept model's own and nothing a test did since changed it: how it is compiled, which layers
train, its optimiser's step count. Anything else is rebuilt from what the kernel sent. A judge
serves one submission: nothing is kept from another.

A kept model also gives again a prediction it made (`remember_predictions`): the same images,
arguments, weights and state give the same probabilities, and the lab's accuracy and confusion
tests both predict the 10,000 test images.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from course_utils.grading.wire import Answer, Refused

#: models kept at once (the lab's tests read two: untrained, then trained)
MAX_KEPT = 4
#: predictions each kept model keeps (the most recent)
MAX_PREDICTIONS = 2
#: the arguments of ``predict`` that change nothing it returns
UNREAD = ("verbose",)

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


def _prediction_key(model: Any, x: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """What a prediction depends on, as a digest: the images' bytes, type and shape, the other
    arguments, the model's weights and state. Empty where that cannot be said for sure (inputs
    not one NumPy array of numbers, arguments other than numbers, text, booleans and None)."""
    import numpy as np

    simple = (int, float, str, bool, type(None))
    given = {k: v for k, v in kwargs.items() if k not in UNREAD}
    if type(x) is not np.ndarray or x.dtype.kind not in "biuf":
        return ""
    if not all(type(v) in simple for v in (*args, *given.values())):
        return ""
    digest = hashlib.sha256(json.dumps([str(x.dtype), x.shape, args, sorted(given.items())])
                            .encode())  # fmt: skip
    digest.update(np.ascontiguousarray(x).data.cast("B"))
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).data.cast("B"))
    digest.update(_state(model).encode())
    return digest.hexdigest()


def remember_predictions(model: Any) -> None:
    """Make `model.predict` return a copy of what it returned before for the same images and
    arguments, while the model's weights and state are unchanged; predict anew otherwise."""
    import numpy as np

    predict = model.predict
    made: dict[str, Any] = {}

    def predict_once(x: Any, *args: Any, **kwargs: Any) -> Any:
        key = _prediction_key(model, x, args, kwargs)
        if key and key in made:
            return made[key].copy()
        result = predict(x, *args, **kwargs)
        if key and type(result) is np.ndarray:
            while len(made) >= MAX_PREDICTIONS:
                del made[next(iter(made))]
            made[key] = result.copy()
        return result

    model.predict = predict_once


def keep(node: dict[str, Any], model: Any, notes: list[str]) -> None:
    """Keep `model`, rebuilt from `node` with `notes`, for later tests (the oldest makes room)."""
    key = _key(node)
    _KEPT.pop(key, None)
    while len(_KEPT) >= MAX_KEPT:
        del _KEPT[next(iter(_KEPT))]
    _KEPT[key] = (model, _state(model), list(notes))
