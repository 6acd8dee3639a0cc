"""The file formats the product reads: one list for training, uploads and the docs.

Each format has its modality, the file-name suffixes it is found under, the
suffix a stored upload is given, and the magic bytes an upload is recognised
by (an upload's name is never trusted).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileFormat:
    name: str
    modality: str
    suffixes: tuple[str, ...]
    matches: Callable[[bytes], bool]

    @property
    def suffix(self) -> str:
        return self.suffixes[0]


def _is_mp3(head: bytes) -> bool:
    return head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)


FORMATS = (
    FileFormat("PNG", "image", (".png",), lambda head: head.startswith(b"\x89PNG\r\n\x1a\n")),
    FileFormat("JPEG", "image", (".jpg", ".jpeg"), lambda head: head.startswith(b"\xff\xd8\xff")),
    FileFormat("BMP", "image", (".bmp",), lambda head: head.startswith(b"BM")),
    FileFormat("TIFF", "image", (".tif", ".tiff"), lambda head: head[:4] in (b"II*\x00", b"MM\x00*")),
    FileFormat("WAV", "sound", (".wav",), lambda head: head[:4] == b"RIFF" and head[8:12] == b"WAVE"),
    FileFormat("FLAC", "sound", (".flac",), lambda head: head.startswith(b"fLaC")),
    FileFormat("OGG", "sound", (".ogg",), lambda head: head.startswith(b"OggS")),
    FileFormat("MP3", "sound", (".mp3",), _is_mp3),
)
BY_SUFFIX = {suffix: fmt for fmt in FORMATS for suffix in fmt.suffixes}
ACCEPTED = ", ".join(fmt.name for fmt in FORMATS)


def modality_of(path: Path | str) -> str | None:
    """'image', 'sound', or None for a file type the product does not read, judged by the file name."""
    fmt = BY_SUFFIX.get(Path(path).suffix.lower())
    return fmt.modality if fmt else None


def sniff(data: bytes) -> FileFormat | None:
    """The format of a file from its first bytes, whatever its name says; None if not accepted."""
    head = data[:16]
    return next((fmt for fmt in FORMATS if fmt.matches(head)), None)
