"""The input cache: reused across encodes, invalidated by a parameter or a file's content, never trusting a
half-written shard, and giving back exactly what in-memory preprocessing gives (sounds: to float16 rounding)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.data.dataset import load_dataset
from core.inputs import preprocess
from core.inputs.preprocess import ImagePreprocessing, SoundPreprocessing, load_image, load_sound
from core.training import encode as encode_module
from core.training.encode import encode
from core.training.shards import InputCache

IMAGES = ImagePreprocessing(image_size=64)
SOUNDS = SoundPreprocessing(sample_rate=2000, n_mels=32, n_fft=256, hop_length=128, window_seconds=4.0)


@pytest.fixture
def counted_loads(monkeypatch) -> list[Path]:
    """Every file the encoder decodes, in order (the real decoders still run)."""
    loaded: list[Path] = []

    def counting(real):
        def load(path, params):
            loaded.append(Path(path))
            return real(path, params)

        return load

    monkeypatch.setattr(encode_module, "load_image", counting(preprocess.load_image))
    monkeypatch.setattr(encode_module, "load_sound", counting(preprocess.load_sound))
    return loaded


def _items(folder: Path, count: int | None = None):
    items = load_dataset([folder]).items
    return items if count is None else items[:count]


def test_images_equal_in_memory_encoding_and_views_read_only_their_rows(tmp_path, demo_folders):
    items = _items(demo_folders["audiograms"])
    encoded = encode(items, IMAGES, cache_dir=tmp_path)
    expected = np.stack([load_image(item.path, IMAGES) for item in items])
    x = encoded.x
    assert (x.shape, x.dtype, len(x), x.ndim) == (expected.shape, np.uint8, len(items), 4)
    np.testing.assert_array_equal(x[np.arange(len(x))], expected)
    np.testing.assert_array_equal(x[3:20:4], expected[3:20:4])
    np.testing.assert_array_equal(x[::-5], expected[::-5])
    np.testing.assert_array_equal(x[-1], expected[-1])
    rows = np.array([7, 2, 2, 30])
    np.testing.assert_array_equal(x[rows], expected[rows])
    view = x.subset(rows)
    np.testing.assert_array_equal(view[1:], expected[rows][1:])
    np.testing.assert_array_equal(np.stack(list(view)), expected[rows])
    np.testing.assert_array_equal(encoded.owner, np.arange(len(items)))
    with pytest.raises(IndexError):
        x[len(x)]


def test_sounds_equal_in_memory_encoding_to_float16_rounding(tmp_path, demo_folders):
    items = _items(demo_folders["heart_sounds"], 6)
    encoded = encode(items, SOUNDS, cache_dir=tmp_path)
    loaded = [load_sound(item.path, SOUNDS) for item in items]
    expected = np.concatenate([windows for windows, _ in loaded])
    assert encoded.x.dtype == np.float32 and encoded.x.shape == expected.shape
    np.testing.assert_allclose(encoded.x[:], expected, rtol=2**-10, atol=2**-14)
    np.testing.assert_array_equal(encoded.owner, np.repeat(np.arange(len(items)), [len(w) for w, _ in loaded]))
    np.testing.assert_array_equal(encoded.start_seconds, np.concatenate([starts for _, starts in loaded]))


def test_second_encode_decodes_nothing_and_rewrites_no_shard(tmp_path, demo_folders, counted_loads):
    items = _items(demo_folders["audiograms"], 10)
    first = encode(items, IMAGES, cache_dir=tmp_path)
    assert len(counted_loads) == 10
    shards = {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*") if path.is_file() and path.name != "lease"}
    second = encode(items[::-1], IMAGES, cache_dir=tmp_path)
    assert len(counted_loads) == 10
    assert {
        path: path.stat().st_mtime_ns for path in tmp_path.rglob("*") if path.is_file() and path.name != "lease"
    } == shards
    np.testing.assert_array_equal(second.x[:], first.x[::-1])


def test_a_changed_parameter_or_file_content_is_encoded_again(tmp_path, demo_folders, counted_loads):
    folder = tmp_path / "data"
    for item in _items(demo_folders["audiograms"], 4):
        target = folder / item.label / item.path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(item.path.read_bytes())
    items = _items(folder)
    encode(items, IMAGES, cache_dir=tmp_path / "cache")
    encode(items, ImagePreprocessing(image_size=32), cache_dir=tmp_path / "cache")
    assert len(counted_loads) == 8
    changed = items[1].path
    changed.write_bytes(items[0].path.read_bytes())  # now the same content as a file already cached
    again = encode(items, IMAGES, cache_dir=tmp_path / "cache")
    assert len(counted_loads) == 8
    np.testing.assert_array_equal(again.x[1], again.x[0])
    fresh = _items(demo_folders["audiograms"])[-1].path
    changed.write_bytes(fresh.read_bytes())
    again = encode(items, IMAGES, cache_dir=tmp_path / "cache")
    assert counted_loads[8:] == [changed]
    np.testing.assert_array_equal(again.x[1], load_image(fresh, IMAGES))


def test_a_half_written_or_truncated_shard_is_not_trusted(tmp_path, demo_folders, counted_loads):
    items = _items(demo_folders["audiograms"], 5)
    encode(items, IMAGES, cache_dir=tmp_path)
    (data,) = tmp_path.rglob("*.rows")
    (data.parent / ".killed.tmp.rows").write_bytes(data.read_bytes()[:100])  # a writer killed before its rename
    with open(data, "r+b") as handle:  # a data file cut short under its manifest
        handle.truncate(data.stat().st_size - 1)
    assert InputCache(tmp_path, IMAGES).entries == {}
    encoded = encode(items, IMAGES, cache_dir=tmp_path)
    assert len(counted_loads) == 10
    np.testing.assert_array_equal(encoded.x[:], np.stack([load_image(item.path, IMAGES) for item in items]))


def test_without_a_cache_folder_rows_live_in_a_temporary_one(demo_folders):
    items = _items(demo_folders["audiograms"], 3)
    x = encode(items, IMAGES, cache_dir=None).x
    folder = Path(x.files[0]).parent.parent
    view = x.subset([2])
    del x
    np.testing.assert_array_equal(view[0], load_image(items[2].path, IMAGES))
    del view
    assert not folder.exists()


def test_a_runs_splits_are_lazy_views_of_the_cached_rows(tmp_path, demo_folders):
    from core.training.shards import InputRows
    from core.training.steps import Prepared

    items = _items(demo_folders["heart_sounds"], 6)
    encoded = encode(items, SOUNDS, cache_dir=tmp_path)
    split = np.array(["train", "val", "test", "train", "test", "train"])
    run = Prepared(pd.DataFrame({"split": split}), np.arange(6) % 2, ["a", "b"], 1, SOUNDS, encoded)
    data = run.split_data()
    everything = encoded.x[:]
    for part, x in (("train", data.x_train), ("val", data.x_val), ("test", run.inputs("test"))):
        rows = np.flatnonzero(split[encoded.owner] == part)
        assert isinstance(x, InputRows) and x.dtype == np.float32
        np.testing.assert_array_equal(x[:], everything[rows])
    np.testing.assert_array_equal(data.y_train, (np.arange(6) % 2)[encoded.owner[split[encoded.owner] == "train"]])
