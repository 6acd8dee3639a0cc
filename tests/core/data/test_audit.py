import shutil

import numpy as np
import soundfile
from PIL import Image

from core.data.audit import audit_dataset
from core.data.dataset import load_dataset


def _image(path, colour):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), colour).save(path)


def test_audit_counts_skips_corrupt_files_and_finds_duplicates_and_conflicts(tmp_path):
    for i in range(6):
        _image(tmp_path / "normal" / f"n{i}.png", (i * 10, 0, 0))
    _image(tmp_path / "sick" / "s0.png", (0, 200, 0))
    shutil.copy(tmp_path / "normal" / "n0.png", tmp_path / "normal" / "n0_copy.png")  # duplicate, same class
    shutil.copy(tmp_path / "normal" / "n1.png", tmp_path / "sick" / "n1_again.png")  # conflict
    (tmp_path / "sick" / "broken.png").write_bytes(b"this is text, not a PNG")
    full = (tmp_path / "normal" / "n2.png").read_bytes()
    (tmp_path / "sick" / "truncated.png").write_bytes(full[: len(full) // 2])

    report, usable, hashes = audit_dataset(load_dataset([tmp_path]))

    assert sorted(e["path"].split("/")[-1] for e in report.unreadable) == ["broken.png", "truncated.png"]
    assert all(e["reason"] for e in report.unreadable)
    assert len(report.duplicates) == 2
    assert len(report.conflicts) == 1 and report.conflicts[0]["labels"] == ["normal", "sick"]
    names = {item.path.name for item in usable}
    assert "n1.png" not in names and "n1_again.png" not in names  # conflicting copies are dropped
    assert {"n0.png", "n0_copy.png"} <= names  # agreeing copies stay (the split keeps them together)
    assert report.class_counts == {"normal": 6, "sick": 1}
    assert report.imbalanced and report.imbalance_ratio == 6.0
    assert hashes[tmp_path / "normal" / "n0.png"] == hashes[tmp_path / "normal" / "n0_copy.png"]


def test_audit_reads_sounds_and_rejects_empty_and_nan_recordings(tmp_path):
    (tmp_path / "a").mkdir()
    soundfile.write(tmp_path / "a" / "ok.wav", np.zeros(800, dtype=np.float32) + 0.1, 2000)
    soundfile.write(tmp_path / "a" / "empty.wav", np.zeros(0, dtype=np.float32), 2000)
    nan = np.full(100, np.nan, dtype=np.float32)
    soundfile.write(tmp_path / "a" / "nan.wav", nan, 2000, subtype="FLOAT")
    report, usable, _ = audit_dataset(load_dataset([tmp_path]))
    reasons = {e["path"].split("/")[-1]: e["reason"] for e in report.unreadable}
    assert reasons == {
        "empty.wav": "the recording has no samples",
        "nan.wav": "the recording contains NaN or infinite samples",
    }
    assert [item.path.name for item in usable] == ["ok.wav"]
    assert report.imbalanced is False


def test_audit_summary_mentions_every_finding(tmp_path):
    _image(tmp_path / "x" / "a.png", "red")
    (tmp_path / "x" / "b.png").write_bytes(b"")
    report, _, _ = audit_dataset(load_dataset([tmp_path]))
    text = "\n".join(report.summary_lines())
    assert "1 unreadable" in text and "b.png" in text and "x: 1" in text
