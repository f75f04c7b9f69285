"""A model the judge rebuilt is given again to a later test only while it is the same model, or
given the notebook's new weights once no test holds it."""

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


def _model(compiled=True):
    keras.utils.set_random_seed(3)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(3, activation="relu"), keras.layers.Dense(2)]
    )
    if compiled:
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


def test_a_later_test_gets_the_kept_model_given_the_new_weights_and_compiled(tmp_path):
    uncompiled = _model(compiled=False)
    first = _read(uncompiled, tmp_path, "r1")
    assert not first.compiled
    reuse.new_test()
    uncompiled.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    compiled = _read(uncompiled, tmp_path, "r2")  # the notebook compiled it since
    assert compiled is first and compiled.compiled and _same_weights(compiled, uncompiled)
    assert isinstance(compiled.optimizer, keras.optimizers.Adam)
    reuse.new_test()
    uncompiled.fit(np.ones((8, 4)), np.zeros((8, 2)), epochs=1, verbose=0)  # and trained it
    trained = _read(uncompiled, tmp_path, "r3")
    assert trained is first and _same_weights(trained, uncompiled)
    assert int(np.asarray(trained.optimizer.iterations)) == 0  # as a model rebuilt anew
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    assert np.allclose(trained.predict(x, verbose=0), uncompiled.predict(x, verbose=0))


def test_a_model_given_to_the_test_being_prepared_keeps_its_weights(tmp_path):
    model = _model()
    first = _read(model, tmp_path, "r1")
    kept = [w.copy() for w in first.get_weights()]
    model.set_weights([w + 1 for w in model.get_weights()])  # another model, the same layers
    second = _read(model, tmp_path, "r2")  # in the same test (a function's result, say)
    assert second is not first and _same_weights(second, model)
    assert all(np.array_equal(a, b) for a, b in zip(first.get_weights(), kept, strict=True))


def test_a_kept_model_compiled_otherwise_is_rebuilt_in_a_later_test(tmp_path):
    model = _model()
    first = _read(model, tmp_path, "r1")
    reuse.new_test()
    model.compile(optimizer="sgd", loss="mae")
    second = _read(model, tmp_path, "r2")
    assert second is not first and isinstance(second.optimizer, keras.optimizers.SGD)


@pytest.mark.parametrize(
    "change",
    [
        lambda m: m.fit(np.ones((8, 4)), np.zeros((8, 2)), epochs=1, verbose=0),
        lambda m: m.compile(optimizer="sgd", loss="mae"),
        lambda m: setattr(m.layers[0], "trainable", False),
        lambda m: m.add(keras.layers.Activation("relu")),
    ],
    ids=["training", "compiling", "frozen_layer", "layer_added"],
)
def test_a_kept_model_a_test_changed_is_not_given_again(change, tmp_path):
    model = _model()
    first = _read(model, tmp_path, "r1")
    change(first)  # what one test did to the model it was given
    reuse.new_test()
    second = _read(model, tmp_path, "r2")
    assert second is not first and len(second.layers) == len(model.layers)
    assert _same_weights(second, model) and all(layer.trainable for layer in second.layers)
    assert second.optimizer.__class__ is keras.optimizers.Adam


def test_weights_a_test_changed_are_the_notebooks_again_in_a_later_test(tmp_path):
    model = _model()
    first = _read(model, tmp_path, "r1")
    first.set_weights([w + 1 for w in first.get_weights()])
    reuse.new_test()
    second = _read(model, tmp_path, "r2")
    assert second is first and _same_weights(second, model)


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
    newest = [kept.model for kept in reuse._KEPT.values()][-1]
    assert _read(models[-1], tmp_path, "r90") is newest
    oldest = _read(models[0], tmp_path, "r91")  # it made room: rebuilt again
    assert oldest not in [kept.model for kept in reuse._KEPT.values()][:-1]
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


def test_a_kept_model_predicts_batch_by_batch_with_the_same_numbers_traced_once(tmp_path):
    model = _model()
    model.compile(optimizer="adam", loss="mse", steps_per_execution=8)
    rebuilt = _read(model, tmp_path, "r1")
    traced = []
    step = rebuilt.predict_step

    def counted(data):  # runs once per trace of the prediction, once per step it unrolls
        traced.append(1)
        return step(data)

    rebuilt.predict_step = counted
    rng = np.random.default_rng(2)
    for batches in (6, 10, 6):  # Keras's own would trace 6, then 8 and 2 steps
        x = rng.normal(size=(batches * 4, 4)).astype(np.float32)
        expected = model.predict(x, batch_size=4, verbose=0)
        assert np.array_equal(rebuilt.predict(x, batch_size=4, verbose=0), expected)
    assert len(traced) == 1
    assert (
        rebuilt.steps_per_execution == 8
        and rebuilt.get_compile_config()["steps_per_execution"] == 8
    )  # what a test reads of the model is the notebook's
    rebuilt.compile(optimizer="sgd", loss="mae", steps_per_execution=8)  # a test compiles it
    x = rng.normal(size=(12, 4)).astype(np.float32)
    assert np.array_equal(rebuilt.predict(x, batch_size=4), model.predict(x, batch_size=4))
    assert len(traced) == 2
