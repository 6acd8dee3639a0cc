"""What every object store ARTIFACTS_DIR must do, checked the same way against each local server (issue 14).

Each `tests/deploy/test_object_storage_*.py` starts its store's server and
names a fresh bucket; these checks then run the session's tiny image run
through publishing and mirroring, so a back-end is held to the same
guarantees as the others, not to a copy of them that drifts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from core.errors import InvalidInput, NotFound, Unavailable
from core.settings import Settings
from core.store import remote
from core.store.layout import ArtifactsLayout
from core.store.registry import list_runs, servable_models
from core.store.runs import load_run


def mirror(url: str, tmp_path: Path, cache: str) -> Path:
    """One machine's local mirror of the store, attached as each entry point attaches it."""
    settings = Settings(
        artifacts_dir=url, artifacts_cache_dir=tmp_path / cache, database_url=f"sqlite:///{tmp_path / 'audit.db'}"
    )
    settings.mirror()
    return settings.artifacts_dir


def digests(folder: Path) -> dict[str, str]:
    """The SHA-256 of every file under `folder` (dot-files aside: locks and temporary files), by relative path."""
    return {
        path.relative_to(folder).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in folder.rglob("*")
        if path.is_file() and not path.name.startswith(".")
    }


def check_listed_once_complete_and_fetched_unchanged(image_run: tuple, url: str, tmp_path: Path) -> None:
    """A run uploaded without its manifest is not listed; published, it is listed, served and fetched unchanged."""
    root, run_id, _ = image_run
    source = ArtifactsLayout(root).run(run_id).dir
    store = remote.Store(url)
    store.filesystem().put(str(source), store.key(f"runs/{run_id}"), recursive=True)  # stopped before the manifest
    assert list_runs(mirror(url, tmp_path, "first")) == [], "a run without its manifest was listed"

    assert remote.publish(url, root, run_id) == f"{url}/runs/{run_id}"
    mirrored = mirror(url, tmp_path, "second")
    assert [(run["run_id"], run["state"]) for run in list_runs(mirrored)] == [(run_id, "complete")]
    assert "custom_cnn" in servable_models(mirrored, run_id)
    assert load_run(mirrored, run_id).usable  # the dashboard's read completes the run
    fetched, published = digests(ArtifactsLayout(mirrored).run(run_id).dir), digests(source)
    assert fetched == published, f"fetched files differ: {sorted(set(fetched.items()) ^ set(published.items()))}"
    with pytest.raises(InvalidInput, match="already published"):
        remote.publish(url, root, run_id)


def check_damaged_object_refused(image_run: tuple, url: str, tmp_path: Path) -> None:
    """A published model file changed in the store is refused by its SHA-256, never served."""
    root, run_id, _ = image_run
    remote.publish(url, root, run_id)
    store = remote.Store(url)
    store.filesystem().pipe_file(store.key(f"runs/{run_id}/models/custom_cnn/model.tflite"), b"not the published model")

    with pytest.raises(NotFound, match=r"model\.tflite does not match the SHA-256 of its manifest"):
        servable_models(mirror(url, tmp_path, "cache"), run_id)


def check_dead_endpoint_says_what_to_set(url: str, tmp_path: Path, variable: str) -> None:
    """Nothing listens at the endpoint `variable` names: reading and listing runs each give the same one line.

    The store is refused before its back-end's retries (`remote.CONNECT_SECONDS`), so the line comes in seconds,
    which is not asserted: what is asserted is the line itself.
    """
    mirrored = mirror(url, tmp_path, "cache")
    named = f"the endpoint does not answer; check {variable} (unset for the provider itself) and the network"
    with pytest.raises(Unavailable) as refused:
        servable_models(mirrored, "some-run")
    assert str(refused.value) == f"cannot read run some-run from ARTIFACTS_DIR {url}: {named}"
    with pytest.raises(Unavailable) as unlisted:
        remote.Store(url).published()
    assert str(unlisted.value) == f"cannot list the runs of ARTIFACTS_DIR {url}: {named}"
    assert list_runs(mirrored) == []  # the apps keep serving what is mirrored, and log the same line
