"""An object store's endpoint set in the environment is checked before use, so a dead one fails in seconds.

The check (`remote.answering`) only opens a TCP connection: a server that is
slow to answer requests still accepts connections, so it is never refused.
The stores themselves meet a dead endpoint in tests/deploy/test_object_storage*.py.
"""

from __future__ import annotations

import socket

import pytest

from core.store import remote
from tests.support.servers import free_port


def test_a_listening_server_passes_even_if_it_never_answers_a_request():
    with socket.create_server(("127.0.0.1", 0)) as server:  # never accepts, never reads: the slowest server
        remote.answering(f"http://127.0.0.1:{server.getsockname()[1]}")


def test_a_port_nothing_listens_on_is_refused_in_one_line():
    port = free_port()
    with pytest.raises(ConnectionError, match=f"^nothing accepts connections at 127.0.0.1:{port}: ") as refused:
        remote.answering(f"http://127.0.0.1:{port}/devstoreaccount1")
    assert "\n" not in str(refused.value)


def test_an_endpoint_behind_a_proxy_is_left_to_the_back_end(monkeypatch):
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("http_proxy", "http://proxy.invalid:3128")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    remote.answering(url)  # only the proxy could say whether it answers
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with pytest.raises(ConnectionError):
        remote.answering(url)


@pytest.mark.parametrize(
    ("url", "environ", "endpoint"),
    [
        ("s3://b/p", {"AWS_ENDPOINT_URL_S3": "http://minio:9000"}, "http://minio:9000"),
        ("s3://b/p", {}, None),
        ("gs://b/p", {"STORAGE_EMULATOR_HOST": "localhost:9023"}, "http://localhost:9023"),
        ("gs://b/p", {"STORAGE_EMULATOR_HOST": "https://gcs.test"}, "https://gcs.test"),
        ("gs://b/p", {"STORAGE_EMULATOR_HOST": "default"}, None),
        (
            "az://c/p",
            {"AZURE_STORAGE_CONNECTION_STRING": "AccountName=a;AccountKey=k==;BlobEndpoint=http://azurite:10000/a;"},
            "http://azurite:10000/a",
        ),
        ("abfs://c/p", {"AZURE_STORAGE_CONNECTION_STRING": "AccountName=a;AccountKey=k=="}, None),
        ("az://c/p", {"AZURE_STORAGE_ACCOUNT_NAME": "a"}, None),
    ],
)
def test_the_endpoint_checked_is_the_one_each_back_end_reads(url, environ, endpoint):
    assert remote.scheme_of(url).endpoint_url(environ) == endpoint
