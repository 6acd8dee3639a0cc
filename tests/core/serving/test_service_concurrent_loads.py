"""PredictionService loads each model once, and a load holds up only the requests for that same model.

The loads are real (`load_predictor` on a copy of the session's tiny image
run); a wrapper holds the chosen models' loads at their start until the test
releases them, so "while another model is loading" is a state the test
creates, not a race it hopes to win. Every wait is bounded by `WAIT`: a
regression fails the test instead of hanging it, and nothing asserts a time.
"""

import shutil
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from core.errors import Unavailable
from core.serving import loaded_models
from core.serving import service as service_module
from core.serving.service import PredictionService, model_key
from core.settings import Settings
from core.store.layout import ArtifactsLayout
from core.store.registry import promote
from tests.support.bad_inputs import good_png

WAIT = 60  # seconds a step may take before the test fails rather than hangs


class HeldLoads:
    """`load_predictor`, counting its calls per model, and holding those of `held` models until `release` is set."""

    def __init__(self, monkeypatch, *held: str):
        self.started, self.release = threading.Event(), threading.Event()
        self.calls: Counter[str] = Counter()
        self._lock, real = threading.Lock(), service_module.load_predictor

        def load(settings, run_id, model, **options):
            with self._lock:
                self.calls[model] += 1
            if model in held:
                self.started.set()
                assert self.release.wait(WAIT), "the test never released the held load"
            return real(settings, run_id, model, **options)

        monkeypatch.setattr(service_module, "load_predictor", load)


def counted(call, count: int):
    """`call` wrapped to count its calls, and an event set once `count` calls have been made."""
    reached, lock, calls = threading.Event(), threading.Lock(), [0]

    def counting(*args):
        with lock:
            calls[0] += 1
            if calls[0] >= count:
                reached.set()
        return call(*args)

    return counting, reached


def entered(service: PredictionService, count: int) -> threading.Event:
    """An event set once `count` calls have entered the service's predictor cache (`LoadedModels.get`)."""
    service.loaded.get, reached = counted(service.loaded.get, count)
    return reached


def waiting(monkeypatch, count: int) -> threading.Event:
    """An event set once `count` threads wait for a load in progress (`_Loading.outcome`).

    Unlike `entered`, a thread counted here has already joined the load under way: once the load ends, a thread
    merely counted on entry could still miss it and start a load of its own.
    """
    counting, reached = counted(loaded_models._Loading.outcome, count)
    monkeypatch.setattr(loaded_models._Loading, "outcome", counting)
    return reached


def asked_while_held(
    pool: ThreadPoolExecutor,
    service: PredictionService,
    key: str,
    requests: int,
    loads: HeldLoads,
    all_in: threading.Event,
) -> list[Future]:
    """`requests` calls for `key` submitted while `loads` holds its load, which is released once `all_in` is set."""
    try:
        asked = [pool.submit(service.predictor, key) for _ in range(requests)]
        assert all_in.wait(WAIT) and loads.started.wait(WAIT)
    finally:
        loads.release.set()
    return asked


@pytest.fixture
def service(image_run, tmp_path):
    """A service over a copy of the image run; the run id."""
    artifacts_dir, run_id, _ = image_run
    shutil.copytree(ArtifactsLayout(artifacts_dir).run(run_id).dir, ArtifactsLayout(tmp_path).run(run_id).dir)
    return PredictionService(Settings(artifacts_dir=tmp_path)), run_id


def test_a_loaded_model_answers_while_another_model_is_loading(service, monkeypatch):
    service, run_id = service
    cnn, mobilenet = model_key(run_id, "custom_cnn"), model_key(run_id, "mobilenet_v2")
    service.predictor(cnn)
    loads = HeldLoads(monkeypatch, "mobilenet_v2")
    with ThreadPoolExecutor(2) as pool:
        try:
            loading = pool.submit(service.predictor, mobilenet)
            assert loads.started.wait(WAIT)
            answered = pool.submit(service.predict, good_png(), model=cnn).result(timeout=WAIT)
            assert not loading.done()  # the other model's load is still held
        finally:
            loads.release.set()
        assert loading.result(timeout=WAIT).model_name == "mobilenet_v2"
    assert (answered.prediction.run_id, answered.prediction.model) == (run_id, "custom_cnn")
    assert loads.calls == {"mobilenet_v2": 1}


def test_requests_for_a_model_being_loaded_share_its_one_load(service, monkeypatch):
    service, run_id = service
    cnn = model_key(run_id, "custom_cnn")
    loads, requests = HeldLoads(monkeypatch, "custom_cnn"), 6
    all_in = entered(service, requests)
    with ThreadPoolExecutor(requests) as pool:
        asked = asked_while_held(pool, service, cnn, requests, loads, all_in)
        predictors = [future.result(timeout=WAIT) for future in asked]
    assert loads.calls == {"custom_cnn": 1}
    assert all(predictor is predictors[0] for predictor in predictors)
    assert predictors[0].predict(good_png()).model == "custom_cnn"


def test_a_failed_load_is_not_kept_and_the_next_request_loads_again(service, monkeypatch):
    service, run_id = service
    cnn = model_key(run_id, "custom_cnn")
    tflite = ArtifactsLayout(service.settings.artifacts_dir).run(run_id).model("custom_cnn").tflite
    exported = tflite.read_bytes()
    tflite.write_bytes(b"not a LiteRT model")
    loads, requests = HeldLoads(monkeypatch, "custom_cnn"), 3
    all_in = waiting(monkeypatch, requests - 1)  # the others wait on the one load (released below, so it fails)
    with ThreadPoolExecutor(requests) as pool:
        asked = asked_while_held(pool, service, cnn, requests, loads, all_in)
        for future in asked:  # those that waited for the failed load get its error, not a hang
            with pytest.raises(Unavailable, match="custom_cnn cannot be served"):
                future.result(timeout=WAIT)
        assert loads.calls == {"custom_cnn": 1} and service.loaded.keys() == []

        tflite.write_bytes(exported)  # repaired: the next request loads it, the key is not wedged
        repaired = pool.submit(service.predictor, cnn).result(timeout=WAIT)
    assert loads.calls == {"custom_cnn": 2} and service.loaded.keys() == [(run_id, "custom_cnn")]
    assert repaired.predict(good_png()).model == "custom_cnn"


def test_concurrent_requests_get_the_model_they_named_and_keep_the_bound(service, monkeypatch):
    service, run_id = service
    monkeypatch.setattr(service_module, "LOADED_MODELS", 2)
    service = PredictionService(service.settings)  # built with the smaller bound
    names = ["custom_cnn", "mobilenet_v2", "baseline"]
    asked = [names[i % len(names)] for i in range(36)]
    with ThreadPoolExecutor(6) as pool:
        served = list(pool.map(lambda name: service.predictor(model_key(run_id, name)), asked, timeout=WAIT))
    assert [(predictor.run_id, predictor.model_name) for predictor in served] == [(run_id, name) for name in asked]
    kept = service.loaded.keys()
    assert len(kept) <= 2 and set(kept) <= {(run_id, name) for name in names}


def test_a_new_champion_is_served_even_while_its_model_is_still_loading(service, monkeypatch):
    """Promoted while a request loads it: the champion's requests share that load and get the approved model."""
    service, run_id = service
    root = service.settings.artifacts_dir
    promote(root, service.state, run_id, "custom_cnn", reason="first", user=None, force=True)
    assert service.predictor().model_name == "custom_cnn"
    loads = HeldLoads(monkeypatch, "mobilenet_v2")
    all_in = entered(service, 3)  # the named request, the champion's before the promotion, and after it
    with ThreadPoolExecutor(2) as pool:
        try:
            named = pool.submit(service.predictor, model_key(run_id, "mobilenet_v2"))
            assert loads.started.wait(WAIT)
            assert service.predictor().model_name == "custom_cnn"  # not yet promoted: the champion answers
            promote(root, service.state, run_id, "mobilenet_v2", reason="second", user=None, force=True)
            champion = pool.submit(service.predictor)
            assert all_in.wait(WAIT)
        finally:
            loads.release.set()
        assert champion.result(timeout=WAIT) is named.result(timeout=WAIT)
    assert champion.result().model_name == "mobilenet_v2" and loads.calls == {"mobilenet_v2": 1}
