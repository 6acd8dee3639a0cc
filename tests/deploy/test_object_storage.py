"""ARTIFACTS_DIR in object storage (issue 14), against a real S3-compatible server on localhost.

moto runs in server mode in its own process; s3fs talks HTTP to it with the
standard variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_ENDPOINT_URL_S3), exactly as it would to AWS. The session's tiny image
run is published to a bucket, then listed, fetched into a fresh local mirror,
promoted with `python -m core promote` and served by gunicorn with
ARTIFACTS_DIR=s3://...; a broken store gives one line naming what to set.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import s3fs

from core.errors import InvalidInput, NotFound, Unavailable
from core.settings import Settings
from core.store import remote
from core.store.layout import ArtifactsLayout
from core.store.registry import list_runs, servable_models
from core.store.runs import load_run, training_metrics
from tests.conftest import combine_runs
from tests.support import object_stores
from tests.support.servers import ROOT, free_port, gunicorn, local_service


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """moto's S3 server on a free local port, as its own process; its endpoint URL."""
    with local_service("moto.server", "-H", "127.0.0.1", "-p", "{port}", probe="/moto-api/") as url:
        yield url


@pytest.fixture
def s3_env(endpoint, monkeypatch) -> dict[str, str]:
    """The variables that point s3fs at the local server, with nothing read from this machine's AWS files."""
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL_S3": endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/nonexistent",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # fsspec keeps one S3 filesystem per process, bound to the endpoint it first read: forget any earlier server's.
    s3fs.S3FileSystem.clear_instance_cache()
    return env


@pytest.fixture
def bucket(s3_env) -> str:
    """A new, empty bucket; its URL with a prefix, as ARTIFACTS_DIR would name it."""
    name = f"artifacts-{uuid.uuid4().hex[:12]}"
    fs = remote.Store(f"s3://{name}").filesystem()
    fs.mkdir(name)
    return f"s3://{name}/team/prod"


def _settings(url: str, tmp_path: Path, cache: str = "cache") -> Settings:
    """Settings of one machine: its own mirror folder (attached, as each entry point does), the database on its disk."""
    settings = Settings(
        artifacts_dir=url, artifacts_cache_dir=tmp_path / cache, database_url=f"sqlite:///{tmp_path / 'audit.db'}"
    )
    settings.mirror()
    return settings


def _mirrored(mirror: Path, run_id: str) -> set[str]:
    """The run's files held in a local mirror, as keys of the store (`runs/<run_id>/...`)."""
    run = ArtifactsLayout(mirror).run(run_id).dir
    return {f"runs/{run_id}/{path.relative_to(run).as_posix()}" for path in run.rglob("*") if path.is_file()}


def _serving_files(bucket: str, run_id: str) -> set[str]:
    """What a web worker needs of the published run: the keys `remote.serving_keys` picks, in the run's folder."""
    files = remote.Store(bucket).manifest(run_id)["files"]
    return {key for key in remote.serving_keys(run_id, files) if key.startswith("runs/")}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_run_is_listed_only_once_its_manifest_is_written_last(image_run, bucket, tmp_path):
    root, run_id, _ = image_run
    fs = remote.Store(bucket).filesystem()
    source = ArtifactsLayout(root).run(run_id)
    fs.put(str(source.dir), f"{bucket}/runs/{run_id}", recursive=True)  # every file, as if publishing stopped there

    assert list_runs(_settings(bucket, tmp_path, "first").artifacts_dir) == []

    assert remote.publish(bucket, root, run_id) == f"{bucket}/runs/{run_id}"
    mirror = _settings(bucket, tmp_path, "second").artifacts_dir
    assert [(run["run_id"], run["state"]) for run in list_runs(mirror)] == [(run_id, "complete")]
    serving = _serving_files(bucket, run_id)  # listing fetches what serving reads: no Keras file, no preview
    assert _mirrored(mirror, run_id) == serving and f"runs/{run_id}/models/custom_cnn/model.keras" not in serving
    assert load_run(mirror, run_id).usable  # the dashboard's read completes the run
    fetched = ArtifactsLayout(mirror).run(run_id)
    for path in sorted(source.dir.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            assert _sha256(fetched.dir / path.relative_to(source.dir)) == _sha256(path)
    assert set(training_metrics(mirror)["run_id"]) == {run_id}
    with pytest.raises(InvalidInput, match="already published"):
        remote.publish(bucket, root, run_id)


def test_a_published_file_that_does_not_match_its_manifest_is_refused(image_run, bucket, tmp_path):
    root, run_id, _ = image_run
    remote.publish(bucket, root, run_id)
    fs = remote.Store(bucket).filesystem()
    fs.pipe_file(f"{bucket}/runs/{run_id}/models/custom_cnn/model.tflite", b"not the model that was published")
    mirror = _settings(bucket, tmp_path).artifacts_dir

    with pytest.raises(NotFound, match=r"model\.tflite does not match the SHA-256 of its manifest"):
        servable_models(mirror, run_id)
    assert not ArtifactsLayout(mirror).run(run_id).dir.exists()
    assert "does not match" in " ".join(load_run(mirror, run_id).problems)


def test_a_damaged_file_only_the_dashboard_reads_leaves_serving_alone(image_run, bucket, tmp_path):
    """Files fetched later, for the dashboard, are checked as strictly; the served files stay in service."""
    root, run_id, _ = image_run
    remote.publish(bucket, root, run_id)
    remote.Store(bucket).filesystem().pipe_file(f"{bucket}/runs/{run_id}/models/custom_cnn/model.keras", b"altered")
    mirror = _settings(bucket, tmp_path).artifacts_dir

    assert "custom_cnn" in servable_models(mirror, run_id)
    problems = " ".join(load_run(mirror, run_id).problems)
    assert "model.keras does not match the SHA-256 of its manifest" in problems
    assert _mirrored(mirror, run_id) == _serving_files(bucket, run_id)  # nothing unchecked moved in
    assert "custom_cnn" in servable_models(mirror, run_id)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_run_in_object_storage_is_promoted_and_served(image_run, bucket, tmp_path, demo_folders):
    """Trained as `python -m core train` does, promoted from one machine's mirror, served from another's, fresh."""
    run_id = image_run[1]
    with remote.training_folder(_settings(bucket, tmp_path, "trainer")) as folder:
        combine_runs(folder, [image_run])  # what train_run leaves in the folder it is given
        assert remote.published(_settings(bucket, tmp_path, "trainer"), folder, run_id) == f"{bucket}/runs/{run_id}"
    assert not folder.exists()
    env = {"ARTIFACTS_DIR": bucket, "DATABASE_URL": f"sqlite:///{tmp_path / 'audit.db'}"}

    promoted = _cli(
        {**env, "ARTIFACTS_CACHE_DIR": str(tmp_path / "cli")},
        "promote",
        run_id,
        "custom_cnn",
        "--reason",
        "s3",
        "--force",
    )
    assert promoted.returncode == 0, promoted.stderr

    image = sorted((demo_folders["audiograms"] / "normal").glob("*.png"))[0].read_bytes()
    with gunicorn("wsgi:application", {**env, "ARTIFACTS_CACHE_DIR": str(tmp_path / "web")}) as url:
        answer = requests.post(f"{url}/api/predict", files={"file": ("a.png", image)}, timeout=60)
        listed = requests.get(f"{url}/api/models", timeout=60).json()
    assert answer.status_code == 200, answer.text
    assert (answer.json()["run"], answer.json()["model"]) == (run_id, "custom_cnn")
    assert run_id in {model["run_id"] for model in listed["models"]}
    web = remote.mirror_folder(tmp_path / "web", bucket)
    assert ArtifactsLayout(web).manifest(run_id).is_file()
    assert _mirrored(web, run_id) == _serving_files(bucket, run_id)  # the web worker fetched only what it serves


def test_a_trained_run_the_store_refuses_is_kept_and_published_later(image_run, bucket, tmp_path):
    """The bucket vanishes between the start of training and the upload: the run stays, and `publish` sends it."""
    run_id, settings = image_run[1], _settings(bucket, tmp_path, "trainer")
    name = bucket.removeprefix("s3://").split("/")[0]
    fs = remote.Store(bucket).filesystem()
    with pytest.raises(remote.NotPublished) as refused, remote.training_folder(settings) as folder:
        combine_runs(folder, [image_run])  # what train_run leaves in the folder it is given
        fs.rm(name, recursive=True)
        remote.published(settings, folder, run_id)
    assert f"python -m core publish {folder} {run_id}" in str(refused.value)
    assert ArtifactsLayout(folder).run(run_id).status.is_file()  # the trained run is still there

    fs.mkdir(name)
    env = {"ARTIFACTS_DIR": bucket, "DATABASE_URL": f"sqlite:///{tmp_path / 'audit.db'}"}
    result = _cli({**env, "ARTIFACTS_CACHE_DIR": str(tmp_path / "cli")}, "publish", str(folder), run_id)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"run {run_id} published to {bucket}/runs/{run_id}; {folder} may be deleted"
    assert run_id in remote.Store(bucket).published()


@pytest.mark.parametrize(
    ("bucket_name", "change", "named"),
    [
        ("no-such-bucket-here", {}, "the bucket does not exist; create it, or correct ARTIFACTS_DIR"),
        (None, {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}, "no credentials: set AWS_ACCESS_KEY_ID"),
    ],
    ids=["missing bucket", "no credentials"],
)
def test_a_store_that_cannot_be_used_says_what_to_set(bucket, tmp_path, monkeypatch, bucket_name, change, named):
    for name, value in change.items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()
    url = f"s3://{bucket_name}/prefix" if bucket_name else bucket
    mirror = _settings(url, tmp_path).artifacts_dir

    with pytest.raises(Unavailable, match=f"cannot read run some-run from ARTIFACTS_DIR {url}: {named}"):
        servable_models(mirror, "some-run")
    assert list_runs(mirror) == []  # the apps keep serving what is mirrored, and log the same line


def test_a_dead_endpoint_says_what_to_set_at_once(s3_env, tmp_path, monkeypatch):
    """Nothing listens at AWS_ENDPOINT_URL_S3: one line, before botocore's three tries."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    s3fs.S3FileSystem.clear_instance_cache()
    object_stores.check_dead_endpoint_says_what_to_set("s3://artifacts/prefix", tmp_path, "AWS_ENDPOINT_URL_S3")


def test_the_command_line_says_it_in_one_line(s3_env, tmp_path):
    env = {
        "ARTIFACTS_DIR": "s3://no-such-bucket-here/prefix",
        "ARTIFACTS_CACHE_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'audit.db'}",
        "LOG_LEVEL": "WARNING",  # the database's INFO lines aside, stderr is the error alone
    }
    done = _cli(env, "promote", "some-run", "custom_cnn", "--reason", "check")

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: cannot read run some-run from ARTIFACTS_DIR s3://no-such-bucket-here/prefix: the bucket does not "
        "exist; create it, or correct ARTIFACTS_DIR (and AWS_ENDPOINT_URL_S3)"
    ]
