"""ARTIFACTS_DIR as `gs://` (issue 14), against a Google Cloud Storage emulator on localhost; other schemes refused.

The emulator (the `gcp-storage-emulator` package, pure Python, installed from
requirements.txt) runs as its own process and serves the JSON API that gcsfs
speaks; gcsfs is pointed at it by STORAGE_EMULATOR_HOST, the variable Google's
own clients read. It is a stub of the real service, so this shows that the
product's publishing and mirroring work through gcsfs, not every behaviour of
Google's servers. The session's tiny image run goes through the same steps as
in `test_object_storage.py` (S3): hidden until its manifest is written,
fetched and checked, a damaged file refused, a missing bucket one line.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator

import pytest

from core.errors import CoreError, Unavailable
from core.settings import Settings
from core.store import remote
from core.store.registry import servable_models
from tests.support import object_stores
from tests.support.servers import free_port, local_service


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """The Cloud Storage emulator on a free local port, in memory, as its own process; its endpoint URL."""
    with local_service(
        "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port", "{port}", "--in-memory", probe="/storage/v1/b"
    ) as url:
        yield url


@pytest.fixture
def bucket(endpoint, monkeypatch) -> str:
    """A new, empty bucket in the emulator; its URL with a prefix, as ARTIFACTS_DIR would name it."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", endpoint)
    # gcsfs' default filesystem first asks Google's gRPC control API for the bucket's type, which no emulator
    # serves (a minute of retries per bucket); the plain JSON-API filesystem is what speaks to the emulator.
    monkeypatch.setenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")
    if "gcsfs" in sys.modules:
        import gcsfs

        assert gcsfs.GCSFileSystem is gcsfs.core.GCSFileSystem, "gcsfs was imported before this module set it up"
    name = f"artifacts-{uuid.uuid4().hex[:12]}"
    remote.Store(f"gs://{name}").filesystem().mkdir(name)
    return f"gs://{name}/team/prod"


def test_a_run_in_cloud_storage_is_listed_once_complete_and_fetched_unchanged(image_run, bucket, tmp_path):
    object_stores.check_listed_once_complete_and_fetched_unchanged(image_run, bucket, tmp_path)


def test_a_damaged_object_in_cloud_storage_is_refused(image_run, bucket, tmp_path):
    object_stores.check_damaged_object_refused(image_run, bucket, tmp_path)


def test_a_missing_bucket_says_what_to_set(bucket, tmp_path):
    url = f"gs://no-such-bucket-{uuid.uuid4().hex[:8]}/prefix"
    with pytest.raises(Unavailable, match=f"ARTIFACTS_DIR {url}: the bucket does not exist.*STORAGE_EMULATOR_HOST"):
        servable_models(object_stores.mirror(url, tmp_path, "cache"), "some-run")


def test_a_dead_endpoint_says_what_to_set_at_once(tmp_path, monkeypatch):
    """Nothing listens at STORAGE_EMULATOR_HOST: one line, not after gcsfs' half a minute of retries."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"127.0.0.1:{free_port()}")  # gcsfs adds the http:// itself
    monkeypatch.setenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")  # as `bucket` sets it, whichever runs first
    object_stores.check_dead_endpoint_says_what_to_set("gs://artifacts/prefix", tmp_path, "STORAGE_EMULATOR_HOST")


@pytest.mark.parametrize("url", ["memory://bucket/prefix", "adl://store/prefix", "abfss://container@account/prefix"])
def test_an_unsupported_store_is_refused_when_the_settings_are_read(url, tmp_path):
    environ = {"ARTIFACTS_DIR": url, "ARTIFACTS_CACHE_DIR": str(tmp_path), "DATABASE_URL": "sqlite://"}
    scheme = url.partition("://")[0]
    refusal = rf"^ARTIFACTS_DIR must be a folder or .*s3://.*gs://.*az://.*abfs://.*\); {scheme}:// is not supported$"
    with pytest.raises(CoreError, match=refusal):
        Settings.from_env(environ)
