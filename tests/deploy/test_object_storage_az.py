"""ARTIFACTS_DIR as `az://` (issue 14), against Azurite, Microsoft's Azure Storage emulator, on localhost.

Azurite is a Node.js program: `make test` installs a pinned version with npm
into the git-ignored `.tools/azurite` (`make azurite`), and these tests are
skipped, saying so, where it is not there. Each run of this module starts
Azurite's blob service on a free port with a temporary workspace, and adlfs
reaches it through AZURE_STORAGE_CONNECTION_STRING, the variable Azure's own
tools read. The checks are those every store passes
(`tests/support/object_stores.py`): hidden until its manifest is written,
fetched and checked, a damaged file refused; and a missing container, or no
credentials at all, is one line naming what to set.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from adlfs import AzureBlobFileSystem

from core.errors import Unavailable
from core.store import remote
from core.store.registry import list_runs, servable_models
from tests.support import object_stores
from tests.support.servers import ROOT, free_port, local_program

AZURITE = ROOT / ".tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's one account, with the fixed key Microsoft publishes for it: not a secret, and useless against Azure.
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory) -> Iterator[str]:
    """Azurite's blob service on a free local port, its data in a temporary folder; its endpoint URL."""
    if not AZURITE.is_file():
        pytest.skip("Azurite is not installed: `make azurite` (run by `make test`) installs it with npm")
    workspace = tmp_path_factory.mktemp("azurite")
    arguments = ["--blobHost", "127.0.0.1", "--blobPort", "{port}", "--location", str(workspace)]
    # It answers every anonymous request 400 or 403, so any answer says it is up; newer Azure SDKs than it knows
    # ask for API versions it would refuse without --skipApiVersionCheck.
    options = ["--silent", "--disableTelemetry", "--skipApiVersionCheck"]
    with local_program([str(AZURITE)], *arguments, *options, probe="/", any_status=True) as url:
        # fsspec reuses a filesystem made with the same arguments, and adlfs's keep the connection string of
        # when they were made: an earlier Azurite's port here would be retried for minutes.
        AzureBlobFileSystem.clear_instance_cache()
        yield url
    AzureBlobFileSystem.clear_instance_cache()


@pytest.fixture
def container(endpoint, monkeypatch) -> str:
    """A new, empty container in Azurite; its URL with a prefix, as ARTIFACTS_DIR would name it."""
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={endpoint}/{ACCOUNT};"
    )
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection)
    name = f"artifacts-{uuid.uuid4().hex[:12]}"
    remote.Store(f"az://{name}").filesystem().mkdir(name)
    return f"az://{name}/team/prod"


def test_a_run_in_azure_is_listed_once_complete_and_fetched_unchanged(image_run, container, tmp_path):
    object_stores.check_listed_once_complete_and_fetched_unchanged(image_run, container, tmp_path)
    # abfs:// is adlfs's other name for the same store: the same container lists the same run.
    same = container.replace("az://", "abfs://", 1)
    assert [run["run_id"] for run in list_runs(object_stores.mirror(same, tmp_path, "abfs"))] == [image_run[1]]


def test_a_damaged_object_in_azure_is_refused(image_run, container, tmp_path):
    object_stores.check_damaged_object_refused(image_run, container, tmp_path)


def test_a_missing_container_says_what_to_set(container, tmp_path):
    url = f"az://no-such-container-{uuid.uuid4().hex[:8]}/prefix"
    refusal = f"^cannot read run some-run from ARTIFACTS_DIR {url}: the container does not exist.*AZURE_STORAGE_"
    with pytest.raises(Unavailable, match=refusal) as refused:
        servable_models(object_stores.mirror(url, tmp_path, "cache"), "some-run")
    assert "\n" not in str(refused.value)


def test_an_azure_store_without_credentials_says_what_to_set(tmp_path, monkeypatch):
    for name in [name for name in os.environ if name.startswith("AZURE_STORAGE_")]:
        monkeypatch.delenv(name)
    AzureBlobFileSystem.clear_instance_cache()  # one made with another test's connection string would answer
    url = "az://artifacts/prefix"
    refusal = f"^cannot open ARTIFACTS_DIR {url}: no credentials: set AZURE_STORAGE_CONNECTION_STRING, or "
    with pytest.raises(Unavailable, match=refusal):
        servable_models(object_stores.mirror(url, tmp_path, "cache"), "some-run")


def test_a_wrong_azure_key_says_access_is_denied(container, tmp_path, monkeypatch):
    right = os.environ["AZURE_STORAGE_CONNECTION_STRING"]
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", right.replace(KEY, KEY[:-8] + "AAAAAA=="))
    AzureBlobFileSystem.clear_instance_cache()
    try:
        with pytest.raises(Unavailable, match=f"{container}: access denied; .*AZURE_STORAGE_CONNECTION_STRING"):
            servable_models(object_stores.mirror(container, tmp_path, "cache"), "some-run")
    finally:
        AzureBlobFileSystem.clear_instance_cache()  # the next test's filesystem must take the right key again


def test_a_dead_endpoint_says_what_to_set_at_once(tmp_path, monkeypatch):
    """Nothing listens at the connection string's BlobEndpoint: one line, not after the Azure SDK's minutes of retries.

    Needs no Azurite: the store is refused before any request.
    """
    endpoint = f"http://127.0.0.1:{free_port()}/{ACCOUNT}"
    connection = f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={endpoint};"
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection)
    variable = "AZURE_STORAGE_ACCOUNT_NAME, or the BlobEndpoint of AZURE_STORAGE_CONNECTION_STRING"
    object_stores.check_dead_endpoint_says_what_to_set("az://artifacts/prefix", tmp_path, variable)
