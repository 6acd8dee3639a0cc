"""The gunicorn worker: gthread, but a request reaches a thread only once it has fully arrived.

gunicorn's `gthread` worker hands a connection to a thread as soon as its
first byte arrives; the thread then reads the rest of the request, blocking.
A client that trickles its request (one byte a second) holds a thread for as
long as it likes, and a few such clients hold them all: eight at 1 byte/s
kept `/healthz` from answering for 30 s. This worker reads each request's
headers and body in its main loop, without blocking, alongside every other
connection (a kept-alive connection's next request, and one pipelined behind
the last, too), and hands it to a thread only when it is complete; a request that
has not arrived within `arrival_seconds` is answered 408 and closed. A thread
is then only ever busy with work, never with waiting for a client.

Buffering is bounded: a body declared larger than `max_body_bytes` (the
upload limit, plus room for base64 and form encoding) is handed over at once,
for the app to refuse by its Content-Length; and when the connections of one
worker already hold `max_buffered_bytes`, further requests are handed over
as they come, the way `gthread` always did, rather than held in memory.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import time
from collections import deque
from functools import partial

from gunicorn import util
from gunicorn.workers.gthread import TConn, ThreadWorker

# Headers longer than this are handed over unfinished: gunicorn's parser refuses
# them at once (its own buffer limit is about 800 KB with its default limits).
MAX_HEADER_BYTES = 2**20
TIMEOUT_ANSWER = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


def arrived(data: bytes | bytearray, max_body_bytes: int) -> bool:
    """Whether `data` holds a whole HTTP/1.x request, or enough to hand it over (too large, malformed).

    A malformed or oversized request counts as arrived, for gunicorn or the
    app to refuse: handing it over early costs at most what gthread always
    cost, while holding it back would answer a valid request 408.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) > MAX_HEADER_BYTES
    headers = {}
    for line in bytes(data[:end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip().lower()
    if b"chunked" in headers.get(b"transfer-encoding", b""):
        return _last_chunk_arrived(data, end + 4)
    length = headers.get(b"content-length", b"0")
    if not length.isdigit() or int(length) > max_body_bytes:
        return True
    return len(data) - end - 4 >= int(length)


def _last_chunk_arrived(data: bytes | bytearray, start: int) -> bool:
    """Whether a chunked body from `start` has arrived up to its last chunk and trailers.

    Walks the chunk sizes rather than looking for `0\r\n\r\n` at the end,
    which a chunk's payload may hold, and which trailers would hide.
    """
    while True:
        line_end = data.find(b"\r\n", start)
        if line_end < 0:
            return False
        size = bytes(data[start:line_end]).partition(b";")[0].strip().lower()
        if not size or size.strip(b"0123456789abcdef"):
            return True  # malformed: gunicorn answers 400
        length = int(size, 16)
        if length == 0:
            return data.find(b"\r\n\r\n", line_end) >= 0
        start = line_end + 2 + length + 2
        if start > len(data):
            return False


class BufferedThreadWorker(ThreadWorker):
    """`gthread` with whole requests: see the module docstring. Plain HTTP/1.x only (TLS ends at the router)."""

    max_body_bytes = 32 * 2**20
    max_buffered_bytes = 128 * 2**20
    arrival_seconds = 60.0

    def init_process(self):
        self.arriving: deque[TConn] = deque()
        self.buffered_bytes = 0
        super().init_process()

    def accept(self, listener):
        """Accept a connection and wait, in the main loop, for its request to arrive."""
        if self.cfg.is_ssl:
            return super().accept(listener)
        try:
            client_sock, client_addr = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self._await_request(TConn(self.cfg, client_sock, client_addr, listener.getsockname()))

    def on_client_socket_readable(self, conn, client):
        """A kept-alive connection's next request: wait for it like a new one's."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._await_request(conn)

    def finish_request(self, conn, fs):
        """A request pipelined behind the one just answered waits in the main loop too, not in a thread.

        gthread hands such a connection straight back to a thread, which would
        then block on the rest of a request that a client sends slowly.
        """
        answered = not fs.cancelled() and fs.exception() is None and fs.result() is True
        if not (answered and self.alive and conn.parser.unreader.buf.getbuffer().nbytes):
            return super().finish_request(conn, fs)
        conn.sock.setblocking(False)
        self._await_request(conn, conn.parser.unreader.take_buffered())
        return None

    def _await_request(self, conn: TConn, received: bytes = b"") -> None:
        conn.received = bytearray()
        conn.arrival_deadline = time.monotonic() + self.arrival_seconds
        self.arriving.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_request_bytes, conn))
        if received:
            self._take(conn, received)

    def _on_request_bytes(self, conn: TConn, _client) -> None:
        try:
            chunk = conn.sock.recv(256 * 1024)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._drop(conn)
            return
        self._take(conn, chunk)

    def _take(self, conn: TConn, chunk: bytes) -> None:
        """Add bytes to a waiting request; hand it to a thread once it has arrived (or the buffers are full)."""
        conn.received += chunk
        self.buffered_bytes += len(chunk)
        over_budget = self.buffered_bytes > self.max_buffered_bytes
        if over_budget or arrived(conn.received, self.max_body_bytes):
            self._stop_waiting(conn)
            conn.data_ready = True
            self.enqueue_req(conn)

    def _stop_waiting(self, conn: TConn) -> None:
        self.poller.unregister(conn.sock)
        self.arriving.remove(conn)
        self.buffered_bytes -= len(conn.received)

    def _drop(self, conn: TConn, answer: bytes = b"") -> None:
        self._stop_waiting(conn)
        self.nr_conns -= 1
        if answer:
            with contextlib.suppress(OSError):
                conn.sock.send(answer)
        util.close(conn.sock)

    def murder_pending(self):
        """Also answer 408 to connections whose request has not arrived in time."""
        super().murder_pending()
        now = time.monotonic()
        while self.arriving and self.arriving[0].arrival_deadline <= now:
            self._drop(self.arriving[0], TIMEOUT_ANSWER)

    def handle(self, conn):
        """Give the parser the bytes read in the main loop, then serve the request as gthread does."""
        received, conn.received = getattr(conn, "received", None), None
        if received:
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(received)  # copied once, into the parser's buffer
        del received
        return super().handle(conn)
