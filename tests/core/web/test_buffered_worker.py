"""When the buffered worker hands a request to a thread: `arrived`, on requests as they come in, byte by byte."""

import pytest

from core.web.buffered_worker import MAX_HEADER_BYTES, arrived

LIMIT = 1000
HEAD = b"POST /api/predict HTTP/1.1\r\nHost: x\r\n"


def _first_arrival(request: bytes) -> int:
    """How many bytes of `request` had come in when `arrived` first said yes (len + 1: never)."""
    return next((n for n in range(len(request) + 1) if arrived(request[:n], LIMIT)), len(request) + 1)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        HEAD + b"Content-Length: 5\r\n\r\nhello",
        HEAD + b"content-length:   3\r\n\r\nabc",
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n7;ext=1\r\n0\r\n\r\nab\r\n0\r\n\r\n",  # payload looks like an end
        HEAD + b"Transfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n",  # trailers
    ],
)
def test_a_whole_request_arrives_with_its_last_byte_and_not_before(request_bytes):
    assert _first_arrival(request_bytes) == len(request_bytes)


def test_a_bytearray_is_read_like_bytes():
    assert arrived(bytearray(HEAD + b"Content-Length: 2\r\n\r\nok"), LIMIT)
    assert not arrived(bytearray(HEAD + b"Content-Length: 2\r\n\r\no"), LIMIT)


@pytest.mark.parametrize(
    "request_bytes",
    [
        HEAD + b"Content-Length: 1001\r\n\r\n",  # larger than the limit: the app refuses it by its length
        HEAD + b"Content-Length: -1\r\n\r\n",  # malformed lengths: gunicorn answers 400
        HEAD + b"Content-Length: 1e3\r\n\r\n",
        HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",  # a malformed chunk size
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n-5\r\n",
        b"GET / HTTP/1.1\r\nX: " + b"a" * MAX_HEADER_BYTES,  # headers that never end: gunicorn refuses them
    ],
)
def test_oversized_or_malformed_requests_are_handed_over_at_once_for_refusal(request_bytes):
    assert arrived(request_bytes, LIMIT)


def test_unfinished_requests_keep_waiting():
    assert not arrived(b"GET /healthz HTTP/1.1\r\nHost: x\r\n", LIMIT)
    assert not arrived(HEAD + b"Content-Length: 1000\r\n\r\n" + b"b" * 999, LIMIT)
    assert not arrived(HEAD + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", LIMIT)
    assert not arrived(HEAD + b"Transfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: 1\r\n", LIMIT)
