import re

import pytest
from PIL import Image

from core.data.dataset import group_from_name, load_dataset, parse_label_map
from core.errors import CoreError
from core.inputs.formats import modality_of


def _png(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), "red").save(path)
    return path


def test_class_folders_give_one_item_per_file_labelled_by_folder(tmp_path):
    _png(tmp_path / "healthy" / "a.png")
    _png(tmp_path / "sick" / "b.jpg")
    _png(tmp_path / "sick" / "nested" / "c.png")
    (tmp_path / "sick" / "notes.txt").write_text("x")
    dataset = load_dataset([tmp_path])
    assert dataset.modality == "image"
    found = sorted((p.path.name, p.label) for p in dataset.items)
    assert found == [("a.png", "healthy"), ("b.jpg", "sick"), ("c.png", "sick")]
    assert [s.reason for s in dataset.skipped] == ["unsupported file type .txt"]


def test_manifest_reads_paths_relative_to_itself_with_groups(tmp_path):
    _png(tmp_path / "img" / "1.png")
    _png(tmp_path / "img" / "2.png")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("path,label,group\nimg/1.png,mild,p1\nimg/2.png,severe,p2\nimg/missing.png,mild,p3\n")
    dataset = load_dataset([manifest], label_map=parse_label_map("mild=hearing_loss,severe=hearing_loss"))
    assert [(i.label, i.group) for i in dataset.items] == [("hearing_loss", "p1"), ("hearing_loss", "p2")]
    assert dataset.skipped[0].reason == "listed in the manifest but not found"


def test_custom_group_column(tmp_path):
    _png(tmp_path / "1.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,site\n1.png,a,training-a\n")
    assert load_dataset([manifest], group_column="site").items[0].group == "training-a"


def test_several_sources_are_combined(tmp_path):
    _png(tmp_path / "one" / "a" / "x.png")
    _png(tmp_path / "two" / "b" / "y.png")
    dataset = load_dataset([tmp_path / "one", tmp_path / "two"])
    assert dataset.class_names == ["a", "b"]
    assert {i.source for i in dataset.items} == {str(tmp_path / "one"), str(tmp_path / "two")}


def test_group_pattern_names_groups_from_file_names(tmp_path):
    _png(tmp_path / "a" / "N12 Left.jpg")
    _png(tmp_path / "a" / "photo1_jpg.rf.abc.jpg")
    dataset = load_dataset([tmp_path], group_pattern=r"^(N\d+)|^(.*?)_jpg\.rf\.")
    groups = sorted(i.group or "" for i in dataset.items)
    assert groups == ["N12", "photo1"]
    assert group_from_name("photo1_jpg.rf.abc.jpg", re.compile(r"^(.*?)_(?:jpg|jpeg|JPG)\.rf\.")) == "photo1"
    assert group_from_name("other.png", re.compile(r"^(N\d+)")) is None


def test_mixing_images_and_sounds_is_a_clear_error(tmp_path):
    _png(tmp_path / "a" / "x.png")
    (tmp_path / "a" / "y.wav").write_bytes(b"RIFF")
    with pytest.raises(CoreError, match="all images or all sounds"):
        load_dataset([tmp_path])


@pytest.mark.parametrize(
    "name, expected",
    [
        ("a.PNG", "image"),
        ("a.tiff", "image"),
        ("a.bmp", "image"),
        ("a.flac", "sound"),
        ("a.mp3", "sound"),
        ("a.ogg", "sound"),
        ("a.txt", None),
    ],
)
def test_modality_is_detected_from_the_extension(name, expected):
    assert modality_of(name) == expected


@pytest.mark.parametrize("bad", ["mild", "=x", "a=", "a=b,c"])
def test_malformed_label_map_is_rejected(bad):
    with pytest.raises(CoreError, match="old=new"):
        parse_label_map(bad)


def test_missing_source_and_bad_manifest_are_clear_errors(tmp_path):
    with pytest.raises(CoreError, match="does not exist"):
        load_dataset([tmp_path / "nope"])
    bad = tmp_path / "m.csv"
    bad.write_text("file,class\n")
    with pytest.raises(CoreError, match="lacks column"):
        load_dataset([bad])
    with pytest.raises(CoreError, match="not a valid regex"):
        load_dataset([bad], group_pattern="(")
