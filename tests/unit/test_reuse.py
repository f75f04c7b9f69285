"""A model the judge rebuilt is given again to a later test only while it is the same model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from course_utils.grading import bridge_kernel as bk
from course_utils.grading import reuse
from course_utils.grading.values import NOTES, UNCOMPILED, decode
from course_utils.grading.wire import Answer, Refused

keras = pytest.importorskip("keras")


@pytest.fixture(autouse=True)
def _nothing_kept():
    NOTES.clear()
    reuse._KEPT.clear()
    yield
    NOTES.clear()
    reuse._KEPT.clear()


def _model():
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return model


def _read(model, folder, rid, **changes):
    """`model` as one test reads it: sent by the notebook's side as answer `rid`, then rebuilt."""
    node = {**bk.encode(model, bk.Files(str(folder), rid)), **changes}
    (folder / f"{rid}.json").write_text(json.dumps({"values": {"model": node}}))
    answer = Answer(folder, rid)
    return decode(answer.manifest()["values"]["model"], answer, None, {})


def _same_weights(a, b) -> bool:
    pairs = zip(a.get_weights(), b.get_weights(), strict=True)
    return all(np.array_equal(x, y) for x, y in pairs)


def test_the_same_model_read_by_a_later_test_is_the_kept_one_with_its_notes(tmp_path):
    model = _model()
    first = _read(model, tmp_path, "r1", compile_error="TypeError: cannot describe")
    assert len(NOTES) == 1 and UNCOMPILED in NOTES[0]
    NOTES.clear()  # each test prints its notes: the next test must be told again
    second = _read(model, tmp_path, "r2", compile_error="TypeError: cannot describe")
    assert second is first and len(NOTES) == 1 and UNCOMPILED in NOTES[0]
    x = np.ones((2, 4), dtype=np.float32)
    assert np.allclose(second.predict(x, verbose=0), model.predict(x, verbose=0))


def test_new_weights_or_new_compile_settings_give_a_model_rebuilt_from_them(tmp_path):
    model = _model()
    first = _read(model, tmp_path, "r1")
    model.fit(np.ones((8, 4)), np.zeros((8, 2)), epochs=1, verbose=0)  # the notebook trains it
    trained = _read(model, tmp_path, "r2")
    assert trained is not first and _same_weights(trained, model)
    model.compile(optimizer="sgd", loss="mae")
    recompiled = _read(model, tmp_path, "r3")
    assert recompiled is not trained and isinstance(recompiled.optimizer, keras.optimizers.SGD)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.set_weights([w + 1 for w in m.get_weights()]),
        lambda m: m.fit(np.ones((8, 4)), np.zeros((8, 2)), epochs=1, verbose=0),
        lambda m: m.compile(optimizer="sgd", loss="mae"),
        lambda m: setattr(m.layers[0], "trainable", False),
    ],
    ids=["weights", "training", "compiling", "frozen_layer"],
)
def test_a_kept_model_a_test_changed_is_not_given_again(change, tmp_path):
    model = _model()
    first = _read(model, tmp_path, "r1")
    change(first)  # what one test did to the model it was given
    second = _read(model, tmp_path, "r2")
    assert second is not first
    assert _same_weights(second, model) and all(layer.trainable for layer in second.layers)
    assert second.optimizer.__class__ is keras.optimizers.Adam


def test_weights_that_no_longer_fit_are_refused_as_before(tmp_path):
    model = _model()
    _read(model, tmp_path, "r1")
    node = bk.encode(model, bk.Files(str(tmp_path), "r2"))
    np.save(tmp_path / node["weights"][0], np.zeros((5, 3), np.float32), allow_pickle=False)
    with pytest.raises(Refused, match="do not fit"):
        decode(node, Answer(tmp_path, "r2"), None, {})


def test_at_most_max_kept_models_are_kept(tmp_path):
    models = [_model() for _ in range(reuse.MAX_KEPT + 1)]  # each its own layer names
    for i, model in enumerate(models):
        _read(model, tmp_path, f"r{i}")
    assert len(reuse._KEPT) == reuse.MAX_KEPT
    newest = [model for model, _, _ in reuse._KEPT.values()][-1]
    assert _read(models[-1], tmp_path, "r90") is newest
    oldest = _read(models[0], tmp_path, "r91")  # it made room: rebuilt again
    assert oldest not in [model for model, _, _ in reuse._KEPT.values()][:-1]
    assert _same_weights(oldest, models[0])


def test_a_kept_model_predicts_the_same_images_once_while_unchanged(tmp_path):
    model = _model()
    rebuilt = _read(model, tmp_path, "r1")
    calls = []
    predict = type(rebuilt).predict

    def counted(x, *args, **kwargs):
        calls.append(len(x))
        return predict(rebuilt, x, *args, **kwargs)

    rebuilt.predict = counted
    reuse.remember_predictions(rebuilt)
    x = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    first = rebuilt.predict(x, batch_size=3, verbose=0)
    first[:] = 0  # a test's own changes to what it got stay its own
    second = rebuilt.predict(x.copy(), batch_size=3)
    assert calls == [6] and np.array_equal(second, model.predict(x, verbose=0))
    rebuilt.predict(x, batch_size=2, verbose=0)  # other arguments
    rebuilt.predict(x[:5], batch_size=3, verbose=0)  # other images
    rebuilt.predict(keras.ops.convert_to_tensor(x), batch_size=3, verbose=0)  # not NumPy's
    rebuilt.set_weights([w + 1 for w in rebuilt.get_weights()])
    changed = rebuilt.predict(x, batch_size=3, verbose=0)
    assert calls == [6, 6, 5, 6, 6] and not np.allclose(changed, second)
