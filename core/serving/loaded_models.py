"""The models a serving process keeps loaded: at most a few, each loaded once, no load holding up the others.

Loading a model reads its LiteRT file and references, and may first fetch
them from object storage: seconds, not microseconds. A worker's threads
therefore never wait for one another's loads unless they want the same
model: a request for a model already loaded is answered from memory while
another model loads, and the threads that ask for a model being loaded wait
for that one load, not a second. A load that fails is not kept: the threads
waiting on it get its error, and the next request tries again.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Loading(Generic[V]):
    """One load in progress, whose outcome the other threads that want the same key wait for."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: V | None = None
        self.error: BaseException | None = None

    def outcome(self) -> V:
        self.done.wait()  # set in `LoadedModels._load`'s `finally`, whatever the load did
        if self.error is not None:
            raise self.error
        return self.value


class LoadedModels(Generic[K, V]):
    """The `limit` most recently used values of `load(key)`, each loaded once while its files stay the same.

    Args:
        limit: How many loaded values are kept; the least recently used is
            dropped first (a thread still using it keeps its own reference).
            Loads in progress are not counted: at most one per thread.
        load: Makes the value of a key; what it raises reaches every thread
            that asked for the key during that load.
        stamp: What the key's files look like now (sizes, times); a kept value
            whose stamp has changed since it was loaded is loaded again, so a
            worker never goes on serving files that are no longer there while
            a worker started since serves the new ones. None: values never expire.
    """

    def __init__(self, limit: int, load: Callable[[K], V], stamp: Callable[[K], Hashable] | None = None):
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit!r}")
        self.limit, self._load_value, self._stamp = limit, load, stamp or (lambda _key: None)
        self._loaded: OrderedDict[K, tuple[V, Hashable]] = OrderedDict()
        self._loading: dict[K, _Loading[V]] = {}
        self._lock = threading.Lock()  # held only to look up and update the two dicts, never during a load

    def get(self, key: K) -> V:
        """The value of `key`: kept, being loaded by another thread (waited for), or loaded now."""
        stamp = self._stamp(key)  # taken before any load: files changed during a load are loaded again next time
        with self._lock:
            if key in self._loaded and self._loaded[key][1] != stamp:
                del self._loaded[key]
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key][0]
            loading = self._loading.get(key)
            mine = loading is None
            if mine:
                loading = self._loading[key] = _Loading()
        if not mine:
            return loading.outcome()
        return self._load(key, loading, stamp)

    def keys(self) -> list[K]:
        """The keys loaded, least recently used first."""
        with self._lock:
            return list(self._loaded)

    def _load(self, key: K, loading: _Loading[V], stamp: Hashable) -> V:
        """Load `key` for this thread and those waiting on `loading`: kept if it loaded, forgotten if it failed."""
        try:
            loading.value = self._load_value(key)
        except BaseException as exc:
            loading.error = exc
            raise
        finally:
            with self._lock:
                del self._loading[key]
                if loading.error is None:
                    self._loaded[key] = (loading.value, stamp)
                    while len(self._loaded) > self.limit:
                        self._loaded.popitem(last=False)
            loading.done.set()
        return loading.value
