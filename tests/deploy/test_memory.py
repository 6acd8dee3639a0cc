"""Decompression cases against a real gunicorn worker: its peak memory stays bounded, and it keeps answering."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import combine_runs, promote_newest_best
from tests.support.bad_inputs import decompression_bombs, good_png, long_flac
from tests.support.servers import procfile_web, worker_pids

PEAK_LIMIT_MB = 400


@pytest.fixture(scope="module")
def memory_root(tmp_path_factory, image_run, sound_run):
    root = combine_runs(tmp_path_factory.mktemp("memory"), (image_run, sound_run))
    promote_newest_best(root)
    return root


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for process {pid}")


def _send(url: str, model: str, name: str, data: bytes) -> tuple[str, int, str]:
    response = requests.post(f"{url}/api/predict", files={"file": (name, data)}, data={"model": model}, timeout=120)
    return name, response.status_code, response.text[:300]


def test_decompression_cases_keep_the_worker_under_its_memory_bound(memory_root, run_ids):
    """Four threads at once (one worker, four threads): every case answered 200 or refused with a 4xx, peak < 400 MB.

    The first sound a worker turns into a spectrogram imports librosa (numba,
    scipy.signal: about 140 MB, for good), which is no decompression case:
    the sound cases here are refused before that (docs/deploy.md, "Memory per upload").
    """
    cases = [
        (f"{run_ids['image']}/custom_cnn", name, data, expected)
        for name, (data, expected) in decompression_bombs().items()
    ]
    sound = f"{run_ids['sound']}/custom_cnn"
    cases += [
        (sound, "ten_minutes_8_channels_48khz.flac", long_flac(10, 48000, 8), "error"),  # refused from its header
        (sound, "fourteen_minutes_8_channels_16khz.flac", long_flac(14, 16000, 8), "error"),  # decoded (54 MB), silent
    ]
    env = {"ARTIFACTS_DIR": str(memory_root), "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4"}
    with procfile_web(env) as (url, master):
        [worker] = worker_pids(master.pid)
        before = _peak_rss_mb(worker)
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda case: _send(url, *case[:3]), cases))
        peak = _peak_rss_mb(worker)
        assert worker_pids(master.pid) == [worker]  # the same worker answered everything: never killed for memory
        after = _send(url, f"{run_ids['image']}/custom_cnn", "a.png", good_png())
        assert after[1] == 200 and requests.get(f"{url}/healthz", timeout=10).status_code == 200
    for (_, name, _, expected), (_, status, text) in zip(cases, answers, strict=True):
        assert (status == 200) if expected == "ok" else (400 <= status < 500), (name, status, text)
    print(f"worker peak RSS: {before:.0f} MB after start, {peak:.0f} MB after the decompression cases")
    assert peak < PEAK_LIMIT_MB, f"worker peaked at {peak:.0f} MB (started at {before:.0f} MB)"
