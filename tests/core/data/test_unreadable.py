"""Nothing in a data folder is dropped silently: unreadable folders, special files, links, manifest encodings."""

import os

import pytest
from PIL import Image

from core.data.audit import audit_dataset
from core.data.dataset import file_problem, load_dataset
from core.errors import InvalidInput

AS_ROOT = os.geteuid() == 0


def _png(path, colour="red"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), colour).save(path)
    return path


def _two_classes(root):
    for i, colour in enumerate(("red", "green", "blue")):
        _png(root / "healthy" / f"h{i}.png", colour)
        _png(root / "sick" / f"s{i}.png", (i * 40, 0, 90))
    return root


def _loop(root, name):
    """A class folder that cannot be opened, even by root: a symbolic link to itself (ELOOP)."""
    (root / name).symlink_to(root / name)
    return root / name


def test_a_class_folder_that_cannot_be_opened_stops_loading_and_names_it(tmp_path):
    _two_classes(tmp_path)
    loop = _loop(tmp_path, "pharyngitis")
    with pytest.raises(InvalidInput, match=f"{loop} is a symbolic link that leads nowhere") as refused:
        load_dataset([tmp_path])
    assert "perhaps a whole class" in str(refused.value)


def test_the_audit_reports_unreadable_folders_instead_of_dropping_the_class(tmp_path):
    _two_classes(tmp_path)
    loop = _loop(tmp_path, "pharyngitis")
    (tmp_path / "missing_class").symlink_to(tmp_path / "moved-away")
    dataset = load_dataset([tmp_path], allow_unreadable_folders=True)
    report, usable, _ = audit_dataset(dataset)
    assert {entry["path"] for entry in report.unreadable_folders} == {str(loop), str(tmp_path / "missing_class")}
    assert report.class_counts == {"healthy": 3, "sick": 3} and len(usable) == 6
    text = "\n".join(report.summary_lines())
    assert "2 unreadable folders: training refuses until they can be read" in text and str(loop) in text


def test_nothing_readable_at_all_names_the_unreadable_folder_even_for_the_audit(tmp_path):
    loop = _loop(tmp_path, "only_class")
    with pytest.raises(InvalidInput, match=str(loop)):
        load_dataset([tmp_path], allow_unreadable_folders=True)


@pytest.mark.skipif(AS_ROOT, reason="root reads folders whatever their permissions; the symlink-loop tests cover it")
def test_a_class_folder_without_read_permission_is_refused_not_dropped(tmp_path):
    _two_classes(tmp_path)
    locked = _png(tmp_path / "pharyngitis" / "p0.png").parent
    locked.chmod(0)
    try:
        with pytest.raises(InvalidInput, match=f"{locked} cannot be listed \\(Permission denied\\)"):
            load_dataset([tmp_path])
        report, _, _ = audit_dataset(load_dataset([tmp_path], allow_unreadable_folders=True))
        assert [entry["path"] for entry in report.unreadable_folders] == [str(locked)]
    finally:
        locked.chmod(0o755)


def test_special_files_and_links_are_passed_over_with_their_reason(tmp_path):
    _two_classes(tmp_path)
    os.mkfifo(tmp_path / "sick" / "stream.png")
    (tmp_path / "sick" / "gone.png").symlink_to(tmp_path / "nowhere.png")
    (tmp_path / "sick" / "more").symlink_to(tmp_path / "healthy")
    (tmp_path / "healthy" / "h0_link.png").symlink_to(tmp_path / "healthy" / "h0.png")  # a link to a file is read
    dataset = load_dataset([tmp_path])
    reasons = {os.path.basename(skip.path): skip.reason for skip in dataset.skipped}
    assert reasons["stream.png"] == "is a named pipe (FIFO), not a file"
    assert reasons["gone.png"].startswith("is a symbolic link that leads nowhere")
    assert reasons["more"] == "is a link to a folder, not followed"
    assert sorted(item.path.name for item in dataset.items if item.label == "healthy") == [
        "h0.png",
        "h0_link.png",
        "h1.png",
        "h2.png",
    ]
    report, _, _ = audit_dataset(dataset)  # would block forever on the named pipe if it were read
    text = "\n".join(report.summary_lines())
    assert "3 passed over" in text and "is a named pipe (FIFO), not a file: 1" in text


def test_a_manifest_listing_a_folder_or_a_pipe_skips_those_rows(tmp_path):
    _png(tmp_path / "a.png")
    os.mkfifo(tmp_path / "b.png")
    (tmp_path / "c.png").mkdir()
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\na.png,x\nb.png,y\nc.png,y\n")
    dataset = load_dataset([manifest])
    assert [item.path.name for item in dataset.items] == ["a.png"]
    reasons = [skip.reason for skip in dataset.skipped]
    assert reasons == ["is a named pipe (FIFO), not a file", "is a folder, not a file"]


def test_file_problem_tells_regular_files_from_the_rest(tmp_path):
    regular = _png(tmp_path / "a.png")
    assert file_problem(regular) is None
    assert file_problem(tmp_path) == "is a folder, not a file"
    assert file_problem(tmp_path / "nope.png").startswith("cannot be read (No such file")


def _manifest_rows():
    return "path,label,group\n" + "".join(f"img/é{i}.png,anormal_é,patient-{i}\n" for i in range(3))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom", "utf-32"])
def test_manifests_in_utf8_or_with_a_byte_order_mark_are_read_exactly(tmp_path, encoding):
    for i in range(3):
        _png(tmp_path / "img" / f"é{i}.png")
    text = _manifest_rows()
    if encoding.endswith("-bom"):  # explicit endianness, with the mark a spreadsheet program writes first
        data = ("\ufeff" + text).encode(encoding.removesuffix("-bom"))
    else:
        data = text.encode(encoding)
    (tmp_path / "m.csv").write_bytes(data)
    dataset = load_dataset([tmp_path / "m.csv"])
    assert [(item.path.name, item.label, item.group) for item in dataset.items] == [
        (f"é{i}.png", "anormal_é", f"patient-{i}") for i in range(3)
    ]
    assert dataset.skipped == []


@pytest.mark.parametrize(
    "encoding, expected",
    [
        ("cp1252", r"is not UTF-8 text: byte 0xe9 on line 2 .*Latin-1 or Windows-1252"),
        ("latin-1", r"is not UTF-8 text: byte 0xe9 on line 2"),
        ("utf-16-le", r"holds NUL bytes \(UTF-16 without a byte-order mark\?\)"),
    ],
)
def test_manifests_in_other_encodings_are_refused_naming_the_file(tmp_path, encoding, expected):
    manifest = tmp_path / "m.csv"
    manifest.write_bytes(_manifest_rows().encode(encoding))
    with pytest.raises(InvalidInput, match=f"manifest {manifest} {expected}.*save it as UTF-8"):
        load_dataset([manifest])


def test_a_manifest_with_a_broken_byte_order_marked_text_is_refused(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_bytes("path,label\n".encode("utf-16") + b"\x00\xd8")  # a lone surrogate
    with pytest.raises(InvalidInput, match="is not valid UTF-16 text"):
        load_dataset([manifest])


def test_an_empty_class_folder_is_reported_not_silently_dropped(tmp_path):
    _two_classes(tmp_path)
    (tmp_path / "pharyngitis").mkdir()
    (tmp_path / "pharyngitis" / "notes.txt").write_text("to do: add the photos")
    dataset = load_dataset([tmp_path])
    reasons = {skip.path: skip.reason for skip in dataset.skipped}
    assert reasons[str(tmp_path / "pharyngitis")] == "a class folder without image or sound files: class left out"
    assert "a class folder without image or sound files: class left out: 1" in "\n".join(
        audit_dataset(dataset)[0].summary_lines()
    )
