"""Models the judge rebuilt, given again to later tests instead of rebuilding them.

In the student's kernel every test reads the same ``model`` object. The judge fetches each
test's names afresh (`course_utils.grading.judge`), so each test would rebuild the model from
its description (about 0.1 s for the lab's) and trace its prediction again. Instead, the judge
keeps the last models it rebuilt, by their architecture as the notebook's kernel described it
(`take`):

- a later test that reads the same model unchanged (the same compile settings, weights
  equal to the kept model's own) is given the kept model, when nothing a test did since
  changed it: its architecture as Keras describes it, how it is compiled, which layers train,
  its optimiser's step count.
- a model of the same architecture with other weights (the notebook trained it), or
  compiled since, is the kept model given the weights the kernel now sends (and compiled by
  the caller), when no test holds the kept model any more: it was last given to an earlier
  test (`new_test` starts each one) and that test left it unchanged. Compiled with other
  settings than the kept model's, it is rebuilt.

Anything else is rebuilt from what the kernel sent. A judge serves one submission: nothing is
kept from another.

A kept model also gives again a prediction it made (`remember_predictions`): the same images,
arguments, weights and state give the same probabilities, and the lab's accuracy and confusion
tests both predict the 10,000 test images.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from course_utils.grading.wire import Answer, Refused

#: models kept at once (the lab's tests read two: untrained, then trained)
MAX_KEPT = 4
#: predictions each kept model keeps (the most recent)
MAX_PREDICTIONS = 2
#: the arguments of ``predict`` that change nothing it returns
UNREAD = ("verbose",)


@dataclass
class _Kept:
    model: Any
    state: str  # `_state` when kept
    notes: list[str]  # what its rebuilding told the tests
    compiled: str  # the compile settings it was rebuilt with (`_compiled`)
    test: int  # the test it was last given to


#: kept models by their architecture (`_architecture`), the oldest first
_KEPT: dict[str, _Kept] = {}
_TESTS = [0]  # the number of the test being prepared


def new_test() -> None:
    """A new test begins: the models given to earlier tests are no longer held by one."""
    _TESTS[0] += 1


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, default=str).encode()).hexdigest()


def _architecture(node: dict[str, Any]) -> str:
    return _digest(node.get("config"))


def _compiled(node: dict[str, Any]) -> str:
    return _digest([node.get(name) for name in ("compile", "compile_error")])


def _state(model: Any) -> str:
    """What a test may change in a model besides its weights, as text."""
    import numpy as np

    optimizer = getattr(model, "optimizer", None)
    steps = getattr(optimizer, "iterations", None)
    compiled = model.get_compile_config() if getattr(model, "compiled", False) else None
    return json.dumps(
        [
            model.get_config(),
            compiled,
            [bool(layer.trainable) for layer in model.layers],
            bool(model.trainable),
            None if steps is None else np.asarray(steps).tolist(),
        ],
        default=repr,
        sort_keys=True,
    )


def _weights(model: Any, node: dict[str, Any], answer: Answer) -> list[Any] | None:
    """The weights in `answer` for `node`, when they fit `model`'s variables; None otherwise."""
    files = node.get("weights")
    expected = [tuple(int(d) for d in w.shape) for w in model.weights]
    if not isinstance(files, list) or len(files) != len(expected):
        return None
    try:
        if [answer.shape(f) for f in files] != expected:
            return None
        return [answer.array(f) for f in files]
    except Refused:  # rebuilt, and refused there with its reason
        return None


def take(node: dict[str, Any], answer: Answer) -> tuple[Any, list[str] | None]:
    """The kept model of `node`'s architecture, when it may stand for the model `node` and
    `answer` describe, and nothing a test did changed it since it was kept:

    - (the model, the notes its rebuilding gave): its weights and compile settings are the ones
      described (the first case above);
    - (the model given the weights in `answer`, None): no test holds it, and it is compiled as
      described, or not yet (the second): the caller compiles it as described and keeps it;
    - (None, None): there is none; the model is rebuilt.
    """
    import numpy as np

    key = _architecture(node)
    kept = _KEPT.get(key)
    if kept is None or _state(kept.model) != kept.state:
        return None, None
    same_compile, free = kept.compiled == _compiled(node), kept.test != _TESTS[0]
    if not same_compile and (not free or getattr(kept.model, "compiled", False)):
        return None, None
    arrays = _weights(kept.model, node, answer)
    if arrays is None:
        return None, None
    pairs = zip(arrays, kept.model.get_weights(), strict=True)
    if same_compile and all(np.array_equal(a, w) for a, w in pairs):
        kept.test = _TESTS[0]
        return kept.model, kept.notes
    if not free:
        return None, None
    try:
        kept.model.set_weights(arrays)
    except ValueError:
        return None, None
    del _KEPT[key]
    return kept.model, None


def _prediction_key(
    model: Any, state: str, x: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> str:
    """What a prediction depends on, as a digest: the images' bytes, type and shape, the other
    arguments, the model's weights and `state` (`_state`). Empty where that cannot be said for
    sure (inputs not one NumPy array of numbers, arguments other than numbers, text, booleans
    and None)."""
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
    digest.update(state.encode())
    return digest.hexdigest()


def _batch_by_batch(
    model: Any, state: str, predict: Any, traced: list[Any], *args: Any, **kwargs: Any
) -> Any:
    """`predict(*args, **kwargs)` one batch per call into the backend, whatever the model's
    ``steps_per_execution``: the same numbers, traced once for any number of batches (Keras
    traces its several-steps function again for each new count: about 0.4 s for the lab's
    10,000 test images after its 6,000 validation images). `traced` keeps that one-step
    function, and the model's `state` it was traced in: compiling again drops it, as Keras
    drops its own."""
    steps, function = getattr(model, "steps_per_execution", 1), model.predict_function
    if type(steps) is not int or steps <= 1:
        return predict(*args, **kwargs)
    if traced[1] != state:
        traced[:] = [None, state]
    model.steps_per_execution, model.predict_function = 1, traced[0]
    try:
        return predict(*args, **kwargs)
    finally:
        traced[0] = model.predict_function
        model.steps_per_execution, model.predict_function = steps, function


def remember_predictions(model: Any) -> None:
    """Make `model.predict` return a copy of what it returned before for the same images and
    arguments, while the model's weights and state are unchanged; predict anew otherwise, one
    batch per call (`_batch_by_batch`)."""
    import numpy as np

    predict = model.predict
    made: dict[str, Any] = {}
    traced: list[Any] = [None, ""]  # the one-step function, and the state it was traced in

    def predict_once(x: Any, *args: Any, **kwargs: Any) -> Any:
        state = _state(model)
        key = _prediction_key(model, state, x, args, kwargs)
        if key and key in made:
            return made[key].copy()
        result = _batch_by_batch(model, state, predict, traced, x, *args, **kwargs)
        if key and type(result) is np.ndarray:
            while len(made) >= MAX_PREDICTIONS:
                del made[next(iter(made))]
            made[key] = result.copy()
        return result

    model.predict = predict_once


def keep(node: dict[str, Any], model: Any, notes: list[str]) -> None:
    """Keep `model`, rebuilt from `node` with `notes`, for later tests (the oldest makes room)."""
    key = _architecture(node)
    _KEPT.pop(key, None)
    while len(_KEPT) >= MAX_KEPT:
        del _KEPT[next(iter(_KEPT))]
    _KEPT[key] = _Kept(model, _state(model), list(notes), _compiled(node), _TESTS[0])
