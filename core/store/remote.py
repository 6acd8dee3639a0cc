"""ARTIFACTS_DIR in object storage (`s3://`, `gs://`, `az://bucket/prefix`): publishing runs, mirroring them locally.

Object storage has no rename, so a run cannot appear at once the way a local
folder does. A run is *published* instead: every file is uploaded first and
its manifest last (`manifests/<run_id>.json`: each file's size and SHA-256),
and readers list manifests, never folders, so a run is visible only once it
is complete. What a run adds to files that runs share (its rows of
`training_metrics.csv`, the examples it exported) is uploaded under
`shared/<run_id>/`, so two trainers never write the same object.

Every process reads a local mirror (`Settings.artifacts_dir`, under
ARTIFACTS_CACHE_DIR): a run is downloaded into a temporary folder, each file
checked against its manifest, its shared files merged, then renamed into
`runs/<run_id>` and its manifest copied last. The rest of `core` (registry,
runs, predictor, dashboards) therefore reads local files exactly as for a
folder ARTIFACTS_DIR. A complete run never changes, so a mirrored run is
never fetched again; what changes (champion, operating points) is in the
database.

A web worker needs only what serving reads (`RunLayout.serving` and each
model's `ModelLayout.serving` files, and the examples), not the Keras
files, predictions and previews the dashboard shows: `core.store.registry`
fetches runs with `full=False`, which mirrors those files alone (its local
manifest says `"mirrored": "serving"`); a later full fetch (the dashboard's
`core.store.runs.load_run`) adds the rest, each file checked the same way.

`Settings.mirror()` attaches each mirror to its store; `core.store.registry`
calls `fetch` before reading a run and `refresh` before listing runs; both do
nothing for a folder ARTIFACTS_DIR. Failures of the store become one line
naming what to set (`Unavailable`), never a back-end's traceback; an endpoint
set in the environment that accepts no connection fails so in seconds
(`answering`), not after the back-end's retries.

Only the schemes of `SCHEMES` are accepted, each tested against a real server
on localhost (moto's S3; the Google Cloud Storage emulator; Microsoft's Azurite
for Azure Blob Storage, where `abfs://` is adlfs's other name for `az://`). Any
other fsspec URL is refused when the settings are read: a back-end this project
has never run could fail in ways no test has seen.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from core.errors import CoreError, InvalidInput, NotFound, Unavailable
from core.store import artifacts
from core.store.layout import ArtifactsLayout
from core.store.stamps import utc_now

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

REFRESH_SECONDS = 10.0  # how stale a process's list of published runs may be; a named run is looked up at once
_MISSES_LIMIT = 1024
# Keys in the store, relative to its URL: the same names as a local ARTIFACTS_DIR, from the one layout.
KEYS = ArtifactsLayout(Path())
MIRRORED, SERVING = "mirrored", "serving"  # a local manifest's mark of a run mirrored for serving only
# gcsfs logs each failure it raises with its traceback (`logger.exception`); `Store.reaching` says it in one
# line instead, and logs the traceback at DEBUG (`--debug`).
logging.getLogger("gcsfs").setLevel(logging.CRITICAL)
# How long an endpoint set in the environment has to accept a TCP connection before each use of the store. gcsfs
# retries a refused connection for about 35 s (its six tries are fixed when the class is defined) and the Azure SDK
# for about 85 s per request (adlfs passes no retry option to the SDK's client: fsspec/adlfs#502); a server that is
# merely slow still accepts connections at once, so this refuses only a dead one.
CONNECT_SECONDS = 3.0


def _variable(name: str) -> Callable[[Mapping[str, str]], str | None]:
    return lambda environ: environ.get(name) or None


def _emulator_host(environ: Mapping[str, str]) -> str | None:
    """STORAGE_EMULATOR_HOST as gcsfs reads it: `host:port` means `http://host:port`; `default` means Google."""
    host = environ.get("STORAGE_EMULATOR_HOST", "")
    if host in {"", "default"}:
        return None
    return host if host.startswith(("http://", "https://")) else f"http://{host}"


def _blob_endpoint(environ: Mapping[str, str]) -> str | None:
    """The BlobEndpoint of AZURE_STORAGE_CONNECTION_STRING (`Name=value;...`), as the Azure SDK reads it."""
    for part in environ.get("AZURE_STORAGE_CONNECTION_STRING", "").split(";"):
        name, _, value = part.partition("=")
        if name.strip().lower() == "blobendpoint" and value.strip():
            return value.strip()
    return None


@dataclass(frozen=True)
class Scheme:
    """A supported object store: its name, the variables that give its credentials and endpoint, what it calls a
    bucket, the options its fsspec back-end is opened with, and how to read an endpoint URL set in the environment
    (None: the provider itself)."""

    name: str
    credentials: str
    endpoint: str
    bucket: str = "bucket"
    options: dict = field(default_factory=dict)
    endpoint_url: Callable[[Mapping[str, str]], str | None] = lambda environ: None


SCHEMES = {
    "s3": Scheme(
        "Amazon S3 or an S3-compatible service",
        "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) for S3",
        "AWS_ENDPOINT_URL_S3",
        # Fail in seconds, not minutes, when the endpoint does not answer; s3fs passes these to botocore.
        options={"config_kwargs": {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 3}}},
        endpoint_url=_variable("AWS_ENDPOINT_URL_S3"),
    ),
    "gs": Scheme(
        "Google Cloud Storage",
        "set GOOGLE_APPLICATION_CREDENTIALS to a service account's key file (or run with a service account on "
        "Google Cloud)",
        "STORAGE_EMULATOR_HOST",
        endpoint_url=_emulator_host,
    ),
    "az": Scheme(
        "Azure Blob Storage (abfs:// is the same)",
        "set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY or "
        "AZURE_STORAGE_SAS_TOKEN (or run with a managed identity on Azure)",
        "AZURE_STORAGE_ACCOUNT_NAME, or the BlobEndpoint of AZURE_STORAGE_CONNECTION_STRING",
        "container",
        # adlfs applies these to each upload and download; listings keep the Azure SDK's own retries (about 90 s
        # against Azure itself: an endpoint set in the environment is checked first, `answering`).
        {"connection_timeout": 5, "read_timeout": 60},
        _blob_endpoint,
    ),
}
ALIASES = {"abfs": "az"}  # adlfs's other name for the same filesystem


def scheme_of(url: str) -> Scheme | None:
    """The supported store `url` names, or None."""
    name = url.partition("://")[0]
    return SCHEMES.get(ALIASES.get(name, name))


def is_url(value: str) -> bool:
    """Whether ARTIFACTS_DIR names object storage (`scheme://...`) rather than a folder."""
    scheme, sep, rest = value.partition("://")
    return bool(sep and rest and scheme.isalnum())


def mirror_folder(cache_dir: Path, url: str) -> Path:
    """The local mirror of `url` under ARTIFACTS_CACHE_DIR: `<cache>/<scheme>/<bucket>/<prefix>`, one per store.

    Raises:
        ValueError: the scheme is not one of `SCHEMES` (or `ALIASES`), or the URL climbs out of its bucket
            (`..`), which would put the mirror outside the cache.
    """
    scheme, _, rest = url.partition("://")
    if scheme_of(url) is None:
        supported = "; ".join(f"{key}://{value.bucket}/prefix: {value.name}" for key, value in SCHEMES.items())
        raise ValueError(
            f"ARTIFACTS_DIR must be a folder or an object-storage URL of a supported kind ({supported}); "
            f"{scheme}:// is not supported"
        )
    parts = PurePosixPath(rest).parts
    if ".." in parts:
        raise ValueError(f"ARTIFACTS_DIR must name a bucket and prefix without '..', got {url!r}")
    return Path(cache_dir, scheme, *parts)


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


class Store:
    """One object store, named by its URL; credentials and endpoint come from the back-end's environment."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.root = self.url.partition("://")[2]  # the path fsspec's back-ends take: `bucket/prefix`

    def filesystem(self) -> Any:
        """The store's fsspec filesystem, without a listing cache: new runs must appear."""
        import fsspec

        options = scheme_of(self.url).options
        with self.reaching("cannot open", probe=False):
            return fsspec.core.url_to_fs(self.url, use_listings_cache=False, **options)[0]

    def key(self, relative: Path | str) -> str:
        return f"{self.root}/{PurePosixPath(relative).as_posix()}"

    @contextlib.contextmanager
    def reaching(self, action: str, *, probe: bool = True) -> Iterator[None]:
        """Turn a failure of the store during `action` into one line naming what to set.

        Args:
            probe: First make sure an endpoint set in the environment accepts a connection (`answering`), so a
                dead one fails in seconds rather than after the back-end's retries.

        Raises:
            Unavailable: the store refused or failed the work.
        """
        try:
            if probe:
                answering(scheme_of(self.url).endpoint_url(os.environ))
            yield
        except CoreError:
            raise
        except Exception as exc:  # each back-end (s3fs, gcsfs, adlfs) raises its own SDK's types
            log.debug("object storage failed", exc_info=True)
            raise Unavailable(f"{action} ARTIFACTS_DIR {self.url}: {_reason(exc, self.url)}") from None

    def published(self) -> list[str]:
        """The ids of the published runs: those whose manifest is in the store.

        Raises:
            Unavailable: the store cannot be read (no such bucket, no credentials, unreachable).
        """
        fs = self.filesystem()
        with self.reaching("cannot list the runs of"):
            names = fs.find(self.key(KEYS.manifests), maxdepth=1)
            if not names:
                self._bucket(fs)
        return sorted(PurePosixPath(name).stem for name in names if name.endswith(".json"))

    def manifest(self, run_id: str) -> dict | None:
        """The run's manifest, or None when the run is not (or not yet completely) published."""
        fs = self.filesystem()
        with self.reaching(f"cannot read run {run_id} from"):
            try:
                return json.loads(fs.cat_file(self.key(KEYS.manifest(run_id))))
            except FileNotFoundError:
                self._bucket(fs)
                return None

    def _bucket(self, fs: Any) -> None:
        """Raise FileNotFoundError when the bucket itself is missing: an absent object means no run only if not."""
        fs.ls(self.root.split("/")[0])


def answering(url: str | None) -> None:
    """Check that the endpoint `url` (None: the provider itself, not checked) accepts a TCP connection.

    An endpoint reached through a proxy (HTTP_PROXY, HTTPS_PROXY, NO_PROXY) is left to the back-end: only the proxy
    could say whether it answers.

    Raises:
        ConnectionError: nothing accepted a connection within CONNECT_SECONDS (or its host name is unknown).
    """
    parts = urlsplit(url or "")
    host = parts.hostname
    if not host or urllib.request.getproxies().get(parts.scheme) and not urllib.request.proxy_bypass(host):
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=CONNECT_SECONDS).close()
    except OSError as exc:
        raise ConnectionError(f"nothing accepts connections at {host}:{port}: {exc}") from None


def _reason(exc: BaseException, url: str) -> str:
    """Why the store failed, as the setting to look at; the exception's own first line otherwise."""
    name, scheme = type(exc).__name__, scheme_of(url)
    # adlfs says a configuration without an account or connection string in a ValueError; Azure's refusals are
    # ClientAuthenticationError, or an HttpResponseError with the status 403; no connection, ServiceRequestError.
    if "Credential" in name or "Authentication" in name or isinstance(exc, ValueError) and "credentials" in str(exc):
        return f"no credentials: {scheme.credentials}"
    if isinstance(exc, ImportError):
        return f"its scheme needs a package that is not installed ({exc}); pip install -r requirements.txt"
    if isinstance(exc, FileNotFoundError):
        return f"the {scheme.bucket} does not exist; create it, or correct ARTIFACTS_DIR (and {scheme.endpoint})"
    if isinstance(exc, PermissionError) or getattr(exc, "status_code", None) == 403:
        return f"access denied; the credentials must be allowed to list, read and write it ({scheme.credentials})"
    if "Connect" in name or name == "ServiceRequestError" or isinstance(exc, (ConnectionError, TimeoutError)):
        return f"the endpoint does not answer; check {scheme.endpoint} (unset for the provider itself) and the network"
    return f"{name}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}"


def _files(folder: Path) -> list[Path]:
    """The files under `folder`, but for dot-files (locks, temporary files of atomic writes)."""
    found = folder.rglob("*") if folder.is_dir() else []
    return sorted(path for path in found if path.is_file() and not path.name.startswith("."))


def serving_keys(run_id: str, keys: Iterable[str]) -> set[str]:
    """Those of a published run's `keys` that serving reads: its serving files, its models' and its examples."""
    run, examples = KEYS.run(run_id), PurePosixPath(KEYS.shared / run_id / KEYS.examples)
    root = PurePosixPath(run.models)
    models = {PurePosixPath(key).parts[len(root.parts)] for key in keys if _under(key, root)}
    wanted = {path.as_posix() for path in run.serving}
    wanted |= {path.as_posix() for name in models for path in run.model(name).serving}
    return {key for key in keys if key in wanted or _under(key, examples)}


def _under(key: str, folder: PurePosixPath) -> bool:
    path = PurePosixPath(key)
    return path.is_relative_to(folder) and path != folder


def _publication(layout: ArtifactsLayout, run_id: str) -> dict[str, Path]:
    """Every file a run publishes, by its key in the store: its folder, and its share of the shared files."""
    run, shared = layout.run(run_id).dir, KEYS.shared / run_id
    files = {(KEYS.run(run_id).dir / path.relative_to(run)).as_posix(): path for path in _files(run)}
    if layout.metrics_csv.is_file():
        files[(shared / KEYS.metrics_csv).as_posix()] = layout.metrics_csv
    return files | {(shared / path.relative_to(layout.root)).as_posix(): path for path in _files(layout.examples)}


def publish(url: str, folder: Path, run_id: str) -> str:
    """Upload a complete run trained in `folder` (a local ARTIFACTS_DIR): every file first, its manifest last.

    Until the manifest is written no reader lists the run, so a publication
    that fails half-way is invisible; publishing again uploads it afresh.

    Returns:
        The run's URL in the store.

    Raises:
        InvalidInput: the run is not complete, or is already published (a published run never changes).
        Unavailable: the store failed.
    """
    store, layout = Store(url), ArtifactsLayout(folder)
    state = artifacts.read_json(layout.run(run_id).status).get("state")
    if state != "complete":
        raise InvalidInput(f"run {run_id} is {state}; only a complete run is published")
    if store.manifest(run_id) is not None:
        raise InvalidInput(f"run {run_id} is already published to {store.url}; a published run never changes")
    fs = store.filesystem()
    publication = _publication(layout, run_id)
    files = {key: {"size": path.stat().st_size, "sha256": _digest(path)} for key, path in publication.items()}
    manifest = {"run_id": run_id, "published": utc_now(), "files": files}
    with store.reaching(f"cannot publish run {run_id} to"):
        # One call for all the files, which the back-end uploads several at a time; the manifest after them.
        fs.put([str(path) for path in publication.values()], [store.key(key) for key in publication])
        fs.pipe_file(store.key(KEYS.manifest(run_id)), json.dumps(manifest, indent=2).encode())
    return f"{store.url}/{KEYS.run(run_id).dir.as_posix()}"


class Mirror:
    """A local folder holding the published runs of one store, each fetched once and checked."""

    def __init__(self, folder: Path, url: str):
        self.layout = ArtifactsLayout(folder)
        self.store = Store(url)
        self._lock = threading.Lock()
        self._listed_at = float("-inf")
        # Runs looked up in vain, with when and why (None: not published), so a bad id costs one request a period.
        self._misses: dict[str, tuple[float, str | None]] = {}

    def has(self, run_id: str, *, full: bool = True) -> bool:
        """Whether the run is mirrored: every file (`full`), or at least those serving reads."""
        manifest = self.layout.manifest(run_id)
        if not manifest.is_file():
            return False
        try:
            return not full or artifacts.read_json_cached(manifest).get(MIRRORED) != SERVING
        except (OSError, ValueError, AttributeError):
            return False

    def refresh(self) -> None:
        """Fetch the runs published since the last look, at most every REFRESH_SECONDS.

        A store that cannot be read leaves the runs already mirrored in
        service, with one warning line saying why.
        """
        with self._lock:
            if time.monotonic() - self._listed_at < REFRESH_SECONDS:
                return
            self._listed_at = time.monotonic()
        try:
            published = self.store.published()
        except CoreError as exc:
            log.warning("%s; showing the runs already mirrored in %s", exc, self.layout.root)
            return
        for run_id in published:
            try:
                self.fetch(run_id, full=False)
            except CoreError as exc:  # one damaged run never hides the others
                log.warning("%s", exc)

    def fetch(self, run_id: str, *, full: bool = True) -> None:
        """Mirror a published run, once: every file, or with `full=False` those serving reads (`serving_keys`).

        A run the store does not have is left for the caller to report.

        Raises:
            NotFound: the run's files in the store do not match its manifest.
            Unavailable: the store failed.
        """
        if PurePosixPath(run_id).name != run_id or run_id.startswith(".") or self.has(run_id, full=full):
            return
        with self._lock:
            when, damage = self._misses.get(run_id, (float("-inf"), None))
        if time.monotonic() - when < REFRESH_SECONDS:
            if damage:
                raise NotFound(damage)
            return
        manifest = self.store.manifest(run_id)
        if manifest is None:
            self._missed(run_id, None)
            return
        try:
            self._install(run_id, manifest, full=full)
        except NotFound as exc:
            self._missed(run_id, str(exc))
            raise

    def _missed(self, run_id: str, damage: str | None) -> None:
        with self._lock:
            if len(self._misses) >= _MISSES_LIMIT:  # ids come from requests: keep the memory bounded
                self._misses.clear()
            self._misses[run_id] = (time.monotonic(), damage)

    def _install(self, run_id: str, manifest: dict, *, full: bool) -> None:
        """Download and check the files wanted, merge the shared ones, then move the run into place; manifest last.

        A run mirrored for serving keeps its checked files: completing it
        downloads only the others, moved in beside them.
        """
        self.layout.root.mkdir(parents=True, exist_ok=True)
        with artifacts.locked(self.layout.manifests):  # the workers of one machine fetch a run once
            if self.has(run_id, full=full):
                return
            for stale in self.layout.root.glob(".fetch-*"):  # only the lock's holder makes them: a killed worker's
                shutil.rmtree(stale, ignore_errors=True)
            files = manifest.get("files", {})
            self._check_keys(run_id, files)
            wanted, kept = set(files) if full else serving_keys(run_id, files), self.has(run_id, full=False)
            incoming = Path(tempfile.mkdtemp(prefix=".fetch-", dir=self.layout.root))
            try:
                fetched = ArtifactsLayout(incoming)
                held = serving_keys(run_id, files) if kept else set()
                self._download(run_id, {key: files[key] for key in sorted(wanted - held)}, incoming)
                self._merge_shared(fetched.shared / run_id, run_id)
                _move_in(fetched.run(run_id).dir, self.layout.run(run_id).dir, beside=kept)
                artifacts.write_json(self.layout.manifest(run_id), {**manifest, MIRRORED: "all" if full else SERVING})
            finally:
                shutil.rmtree(incoming, ignore_errors=True)

    def _check_keys(self, run_id: str, files: dict) -> None:
        """Refuse a manifest without a status file or naming a key outside the run's folders."""
        damaged = f"run {run_id} in {self.store.url} is damaged"
        allowed = (PurePosixPath(KEYS.run(run_id).dir), PurePosixPath(KEYS.shared / run_id))
        if not isinstance(files, dict) or KEYS.run(run_id).status.as_posix() not in files:
            raise NotFound(f"{damaged}: its manifest lists no status file")
        for key in files:
            path = PurePosixPath(key)
            if ".." in path.parts or not any(path.is_relative_to(folder) for folder in allowed):
                raise NotFound(f"{damaged}: its manifest names {key!r}")

    def _download(self, run_id: str, files: dict, incoming: Path) -> None:
        """Each of `files` (checked keys of the manifest) into `incoming`, refused unless its size and SHA-256 match."""
        if not files:
            return
        damaged = f"run {run_id} in {self.store.url} is damaged"
        fs = self.store.filesystem()
        with self.store.reaching(f"cannot fetch run {run_id} from"):
            try:  # one call for all the files, which the back-end downloads several at a time
                fs.get([self.store.key(key) for key in files], [str(incoming / key) for key in files])
            except FileNotFoundError:
                raise NotFound(f"{damaged}: a file its manifest lists is missing") from None
        for key, expected in files.items():
            local = incoming / key
            if local.stat().st_size != expected.get("size") or _digest(local) != expected.get("sha256"):
                raise NotFound(f"{damaged}: {key} does not match the SHA-256 of its manifest")

    def _merge_shared(self, shared: Path, run_id: str) -> None:
        """Add the run's rows to the training metrics (replacing those an interrupted fetch left) and examples."""
        import pandas as pd  # here, not at the top: `core.settings` imports this module

        rows_file = shared / KEYS.metrics_csv
        if rows_file.is_file():
            rows = pd.read_csv(rows_file)
            current = self.layout.metrics_csv
            existing = pd.read_csv(current) if current.is_file() else rows.iloc[:0]
            merged = pd.concat([existing[existing["run_id"] != run_id], rows[rows["run_id"] == run_id]])
            artifacts.write_csv(current, merged)
        examples = shared / KEYS.examples
        for path in _files(examples):
            target = self.layout.examples / path.relative_to(examples)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)


def _move_in(source: Path, target: Path, *, beside: bool) -> None:
    """Put a fetched run folder in place: renamed whole, or (`beside` a serving mirror) file by file into it."""
    if beside:
        for path in _files(source):
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, destination)
        return
    if target.exists():  # renamed by a fetch that stopped before writing the manifest
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


_mirrors: dict[Path, Mirror] = {}
_mirrors_lock = threading.Lock()


def attach(folder: Path, url: str) -> Mirror:
    """Make `folder` the local mirror of the store at `url`, once: reading a run there fetches it first."""
    key = Path(folder).absolute()
    with _mirrors_lock:
        if key not in _mirrors or _mirrors[key].store.url != url.rstrip("/"):
            _mirrors[key] = Mirror(key, url)
        return _mirrors[key]


def _mirror(artifacts_dir: Path) -> Mirror | None:
    return _mirrors.get(Path(artifacts_dir).absolute()) if _mirrors else None


def fetch(artifacts_dir: Path, run_id: str, *, full: bool = True) -> None:
    """Before reading run `run_id`: fetch it if `artifacts_dir` mirrors a store and the run is published there.

    Args:
        full: Every file of the run (the dashboard); False: only what serving reads (`serving_keys`).

    Raises:
        NotFound: the published run is damaged.
        Unavailable: the store failed.
    """
    mirror = _mirror(artifacts_dir)
    if mirror is not None:
        mirror.fetch(run_id, full=full)


def refresh(artifacts_dir: Path) -> None:
    """Before listing runs: fetch what serving reads of those published since the last look, if `artifacts_dir`
    mirrors a store."""
    mirror = _mirror(artifacts_dir)
    if mirror is not None:
        mirror.refresh()


class NotPublished(Unavailable):
    """A run was trained but the store refused it; its folder is kept for `python -m core publish` to retry."""


@contextlib.contextmanager
def training_folder(settings: Settings) -> Iterator[Path]:
    """Where a run is trained: ARTIFACTS_DIR, or with object storage a local folder that `published` uploads.

    The store is read first, so a missing bucket or credential stops the
    command before any training. The folder is removed once the run is
    published, or when training fails; a trained run the store refused is
    kept (`NotPublished`): hours of training are not thrown away for a
    network outage.
    """
    if settings.artifacts_store is None:
        yield settings.artifacts_dir
        return
    Store(settings.artifacts_store).published()
    parent = settings.artifacts_cache_dir / "unpublished"
    parent.mkdir(parents=True, exist_ok=True)
    folder, kept = Path(tempfile.mkdtemp(prefix="run-", dir=parent)), False
    try:
        yield folder
    except NotPublished:
        kept = True
        raise
    finally:
        if not kept:
            shutil.rmtree(folder, ignore_errors=True)


def published(settings: Settings, folder: Path, run_id: str) -> str:
    """Make a run trained in `training_folder` visible; where it now is (a folder or the store's URL).

    Raises:
        NotPublished: the store failed; the message says how to publish the kept run later.
    """
    if settings.artifacts_store is None:
        return str(ArtifactsLayout(folder).run(run_id).dir)
    try:
        return publish(settings.artifacts_store, folder, run_id)
    except Unavailable as exc:
        raise NotPublished(
            f"{exc}; the trained run is kept: once the store answers, run `python -m core publish {folder} {run_id}`"
        ) from None
