"""ARTIFACTS_DIR as an object-storage URL: what the settings make of it, and what is refused before any request.

The store itself is exercised against a real S3-compatible server in
tests/deploy/test_object_storage.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import CoreError, InvalidInput
from core.settings import ENV_NAMES, Settings
from core.store import remote
from core.store.layout import ArtifactsLayout
from core.store.run_writer import RunWriter
from core.store.runs import load_run


@pytest.mark.parametrize(
    ("value", "url"),
    [("s3://bucket/prefix", True), ("gs://bucket", True), ("az://container/a/b", True)]
    + [("artifacts", False), ("/srv/artifacts", False), ("s3:/bucket", False), ("://x", False)],
)
def test_a_url_is_told_from_a_folder(value, url):
    assert remote.is_url(value) is url


def test_a_url_artifacts_dir_is_read_through_its_own_local_mirror(tmp_path):
    settings = Settings.from_env(
        {
            "ARTIFACTS_DIR": "s3://bucket/team/prod/",
            "ARTIFACTS_CACHE_DIR": str(tmp_path),
            "DATABASE_URL": "sqlite:///audit.db",
        }
    )

    assert settings.artifacts_store == "s3://bucket/team/prod"
    assert settings.artifacts_dir == tmp_path / "s3" / "bucket" / "team" / "prod"
    assert Settings(artifacts_dir=tmp_path).artifacts_store is None
    assert "ARTIFACTS_STORE" not in ENV_NAMES.values()  # ARTIFACTS_DIR names the store


def test_a_url_that_climbs_out_of_its_bucket_is_refused(tmp_path):
    with pytest.raises(CoreError, match=r"^ARTIFACTS_DIR must name a bucket and prefix without '\.\.'"):
        Settings(artifacts_dir="s3://bucket/../../etc", artifacts_cache_dir=tmp_path, database_url="sqlite://")


@pytest.mark.parametrize(
    ("extra", "named"),
    [({}, "set DATABASE_URL"), ({"database_url": "sqlite:///audit.db", "store_inputs": True}, "STORE_INPUTS")],
)
def test_object_storage_never_holds_what_changes(extra, named):
    with pytest.raises(CoreError, match=named):
        Settings(artifacts_dir="s3://bucket/prefix", **extra)


def test_only_a_complete_run_is_published(tmp_path):
    writer = RunWriter(tmp_path, "run-1")
    writer.set_status()

    with pytest.raises(InvalidInput, match="run-1 is running; only a complete run is published"):
        remote.publish("s3://bucket/prefix", tmp_path, "run-1")


def test_a_folder_artifacts_dir_is_read_as_it_always_was(image_run, tmp_path):
    root, run_id, _ = image_run

    assert load_run(root, run_id).usable
    assert not ArtifactsLayout(root).manifests.exists()
    with remote.training_folder(Settings(artifacts_dir=tmp_path)) as folder:
        assert folder == tmp_path
    assert remote.published(Settings(artifacts_dir=root), Path(root), run_id) == str(
        ArtifactsLayout(root).run(run_id).dir
    )
