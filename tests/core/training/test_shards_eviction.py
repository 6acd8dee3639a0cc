"""The input cache's bound and versioning: least recently used folders evicted, never one being read (by this
process or another), never a half-deleted folder trusted, a new folder when the preprocessing code changes, and
`python -m core cache` to see and clear it."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.data.dataset import load_dataset
from core.errors import CoreError
from core.inputs.preprocess import ImagePreprocessing, load_image
from core.settings import Settings
from core.training import cache_folders, shards
from core.training.cache_folders import TRASH, clear, evict, folders
from core.training.encode import encode
from core.training.shards import LEASE, InputCache, Lease, code_digest, params_key

SIZES = (16, 20, 24, 28)  # one parameter set (folder) each


@pytest.fixture
def items(demo_folders):
    return load_dataset([demo_folders["audiograms"]]).items[:4]


def _filled(root: Path, items, sizes=SIZES) -> list[Path]:
    """One folder per image size, the first the least recently used; no view of them is kept."""
    paths = []
    for age, size in zip(range(len(sizes), 0, -1), sizes, strict=True):
        params = ImagePreprocessing(image_size=size)
        encode(items, params, cache_dir=root)
        path = root / params_key(params)
        os.utime(path / LEASE, (time.time() - 100 * age,) * 2)
        paths.append(path)
    return paths


def _sizes(paths: list[Path]) -> list[int]:
    return [sum(f.stat().st_size for f in path.iterdir()) for path in paths]


def test_eviction_removes_the_least_recently_used_until_the_bound_holds(tmp_path, items):
    paths = _filled(tmp_path, items)
    sizes = _sizes(paths)
    removed = evict(tmp_path, sizes[2] + sizes[3])
    assert [folder.path for folder in removed] == paths[:2]
    assert [folder.path for folder in folders(tmp_path)] == paths[:1:-1]  # newest use first
    assert sum(folder.size for folder in folders(tmp_path)) <= sizes[2] + sizes[3]
    assert evict(tmp_path, sizes[2] + sizes[3]) == []  # already within the bound


def test_the_evicting_runs_folder_stays_even_alone_above_the_bound(tmp_path, items, caplog):
    paths = _filled(tmp_path, items, SIZES[:2])
    newer = ImagePreprocessing(image_size=12)
    with caplog.at_level(logging.WARNING, logger="core.training.cache_folders"):
        encoded = encode(items, newer, cache_dir=tmp_path, cache_max_bytes=1)
    assert [folder.path for folder in folders(tmp_path)] == [tmp_path / params_key(newer)]
    assert not any(path.exists() for path in paths)
    assert "above INPUT_CACHE_MAX_GB" in caplog.text
    np.testing.assert_array_equal(encoded.x[:], np.stack([load_image(item.path, newer) for item in items]))


def test_a_folder_being_read_is_never_evicted_until_its_rows_are_released(tmp_path, items):
    paths = _filled(tmp_path, items)
    held = encode(items, ImagePreprocessing(image_size=SIZES[0]), cache_dir=tmp_path)  # the oldest, now read
    removed, kept = clear(tmp_path)
    assert {folder.path for folder in removed} == set(paths[1:])
    assert [folder.path for folder in kept] == [paths[0]] and kept[0].in_use
    view = held.x.subset([3])
    del held
    assert evict(tmp_path, 1) == []
    np.testing.assert_array_equal(view[0], load_image(items[3].path, ImagePreprocessing(image_size=SIZES[0])))
    del view
    assert [folder.path for folder in evict(tmp_path, 1)] == [paths[0]]


def test_another_process_reading_a_folder_keeps_it(tmp_path, items):
    (path,) = _filled(tmp_path, items, SIZES[:1])
    ready = tmp_path / "ready"
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from core.inputs.preprocess import ImagePreprocessing; "
            "from core.training.shards import InputCache; "
            f"cache = InputCache(Path({str(tmp_path)!r}), ImagePreprocessing(image_size={SIZES[0]})); "
            f"Path({str(ready)!r}).touch(); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        cwd=Path(__file__).parents[3],
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists() and reader.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), "the reader process did not open the cache"
        assert clear(tmp_path) == ([], folders(tmp_path)) and path.is_dir()
    finally:
        reader.stdin.close()
        reader.wait(timeout=60)
    assert [folder.path for folder in clear(tmp_path)[0]] == [path]


def test_a_deletion_killed_halfway_is_never_read_and_is_swept_later(tmp_path, items, monkeypatch):
    params = ImagePreprocessing(image_size=SIZES[0])
    (path,) = _filled(tmp_path, items, SIZES[:1])

    def killed(folder, ignore_errors=False):
        next(Path(folder).glob("*.rows")).unlink()  # part of the folder deleted, manifests still there
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_folders.shutil, "rmtree", killed)
    with pytest.raises(KeyboardInterrupt):
        clear(tmp_path)
    monkeypatch.undo()
    (trash,) = tmp_path.glob(f"{TRASH}*")
    assert not path.exists() and list(trash.glob("*.json"))
    assert InputCache(tmp_path, params).entries == {}  # the key holds a fresh, empty folder
    assert folders(tmp_path)[0].path == path
    clear(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_reader_waiting_on_an_evictor_gets_a_fresh_folder(tmp_path, items):
    (path,) = _filled(tmp_path, items, SIZES[:1])
    leases: list[Lease | BaseException] = []

    def read() -> None:
        try:
            leases.append(Lease(path))
        except BaseException as exc:  # shown by the assertion below
            leases.append(exc)

    with cache_folders._exclusive(path) as held:
        assert held
        reader = threading.Thread(target=read)
        reader.start()
        os.rename(path, tmp_path / f"{TRASH}moved")
    reader.join(timeout=30)
    assert len(leases) == 1 and isinstance(leases[0], Lease), leases
    assert path.is_dir() and not (path / shards.DESCRIPTION).exists()  # the folder made again
    assert cache_folders._in_use(path) and not cache_folders._in_use(tmp_path / f"{TRASH}moved")


def test_a_change_of_preprocessing_code_makes_a_new_folder_and_the_old_one_goes_first(tmp_path, items, monkeypatch):
    params = ImagePreprocessing(image_size=SIZES[0])
    (old,) = _filled(tmp_path, items, SIZES[:1])
    monkeypatch.setattr(shards, "PREPROCESSING_MODULES", (*shards.PREPROCESSING_MODULES, "core.inputs.formats"))
    new = tmp_path / params_key(params)
    assert new != old
    encode(items, params, cache_dir=tmp_path)
    assert len(InputCache(tmp_path, params).entries) == len({item.path.read_bytes() for item in items})
    (stale,) = [folder for folder in folders(tmp_path) if not folder.readable]
    assert stale.path == old
    os.utime(old / LEASE)  # the stale folder used last, yet evicted first: nothing will read it again
    assert [folder.path for folder in evict(tmp_path, _sizes([new])[0])] == [old]


def test_the_code_digest_ignores_comments_docstrings_and_layout_but_not_code():
    source = 'def f(x):\n    """Why."""\n    return x + 1\n'
    same = '# a note\ndef f(x):\n    """Why, said better."""\n\n    return (x +\n            1)  # one more\n'
    assert code_digest(same) == code_digest(source)
    assert code_digest(source.replace("x + 1", "x + 2")) != code_digest(source)


def test_cache_command_lists_prunes_and_clears(tmp_path, items, capsys):
    paths = _filled(tmp_path / "cache", items, SIZES[:3])
    sizes = _sizes(paths)
    settings = Settings(input_cache_dir=tmp_path / "cache", input_cache_max_gb=(sizes[1] + sizes[2] + 1) / 1e9)
    assert main(["cache"], settings=settings) == 0
    out = capsys.readouterr().out
    assert "3 folder(s)" in out and "(INPUT_CACHE_MAX_GB)" in out
    assert [line.split()[0] for line in out.splitlines() if "last used" in line] == [p.name for p in paths[::-1]]
    assert f"image: image_size={SIZES[0]}" in out and "[in use]" not in out
    assert main(["cache", "--prune"], settings=settings) == 0
    out = capsys.readouterr().out
    assert out.startswith("removed 1 folder(s)") and "2 folder(s)" in out and paths[0].name not in out
    assert main(["cache", "--clear"], settings=settings) == 0
    assert capsys.readouterr().out.startswith("removed 2 folder(s)")
    assert main(["cache"], settings=settings) == 0
    assert "is empty" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stopped:
        main(["cache", "--clear", "--prune"], settings=settings)
    assert stopped.value.code == 2 and "not allowed with" in capsys.readouterr().err


def test_the_bound_must_be_a_positive_number():
    assert Settings.from_env({"INPUT_CACHE_MAX_GB": "0.5"}).input_cache_max_bytes == 5e8
    with pytest.raises(CoreError, match="INPUT_CACHE_MAX_GB must be a positive number, got '-1'"):
        Settings.from_env({"INPUT_CACHE_MAX_GB": "-1"})


def test_a_key_that_cannot_be_a_folder_fails_at_once_instead_of_retrying_forever(tmp_path):
    params = ImagePreprocessing(image_size=SIZES[0])
    (tmp_path / params_key(params)).write_text("not a folder")
    outcome: list[InputCache | BaseException] = []

    def open_cache() -> None:
        try:
            outcome.append(InputCache(tmp_path, params))
        except BaseException as exc:  # shown by the assertion below
            outcome.append(exc)

    opener = threading.Thread(target=open_cache, daemon=True)  # daemon: a regression spins, and must not hang exit
    opener.start()
    opener.join(timeout=30)
    assert len(outcome) == 1 and isinstance(outcome[0], FileExistsError), outcome
