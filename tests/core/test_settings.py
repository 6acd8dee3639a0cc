"""Settings from the environment: defaults, each variable's rule, and one-line errors naming variable and value."""

from pathlib import Path

import pytest
from pydantic import ValidationError
from werkzeug.security import check_password_hash, generate_password_hash

from core.errors import CoreError
from core.settings import LOG_LEVELS, Settings

NUMBERS = ("MAX_UPLOAD_MB", "MAX_AUDIO_SECONDS", "MAX_IMAGE_MEGAPIXELS")


def _refused(environ: dict[str, str]) -> str:
    with pytest.raises(CoreError) as caught:
        Settings.from_env(environ)
    return str(caught.value)


def test_an_empty_environment_gives_the_documented_defaults():
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.artifacts_dir == Path("artifacts")
    assert settings.demo_data_dir == Path("demo_data")
    assert settings.log_level == "INFO"
    assert settings.database_url is None
    assert settings.users == {}
    assert (settings.max_upload_mb, settings.max_audio_seconds, settings.max_image_megapixels) == (20, 900, 40)
    assert settings.store_inputs is False


def test_every_variable_is_read(tmp_path):
    hashed = generate_password_hash("correct horse")
    settings = Settings.from_env(
        {
            "ARTIFACTS_DIR": str(tmp_path / "a"),
            "DEMO_DATA_DIR": str(tmp_path / "d"),
            "LOG_LEVEL": "warning",
            "DATABASE_URL": "sqlite:///x.db",
            "AUTH_USERS": f"alice:{hashed}",
            "MAX_UPLOAD_MB": "5",
            "MAX_AUDIO_SECONDS": "30.5",
            "MAX_IMAGE_MEGAPIXELS": "1e1",
            "STORE_INPUTS": "yes",
        }
    )
    assert settings.artifacts_dir == tmp_path / "a"
    assert settings.demo_data_dir == tmp_path / "d"
    assert settings.log_level == "WARNING"
    assert settings.audit_database_url == "sqlite:///x.db"
    assert check_password_hash(settings.users["alice"], "correct horse")
    assert (settings.max_upload_mb, settings.max_audio_seconds, settings.max_image_megapixels) == (5, 30.5, 10)
    assert settings.store_inputs is True


def test_from_env_reads_the_process_environment_and_the_constructor_does_not(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("MAX_UPLOAD_MB", "3")
    assert Settings.from_env().log_level == "DEBUG"
    assert Settings.from_env().max_upload_mb == 3
    assert Settings().log_level == "INFO"
    assert Settings(max_upload_mb=7).max_upload_mb == 7


@pytest.mark.parametrize("blank", ["", "  "])
def test_empty_or_blank_variables_keep_their_defaults(blank):
    names = ("ARTIFACTS_DIR", "DEMO_DATA_DIR", "LOG_LEVEL", "DATABASE_URL", "AUTH_USERS", *NUMBERS, "STORE_INPUTS")
    assert Settings.from_env(dict.fromkeys(names, blank)) == Settings()


@pytest.mark.parametrize("level", [*LOG_LEVELS, "debug", " Info "])
def test_log_level_accepts_any_case_of_a_logging_level_name(level):
    assert Settings.from_env({"LOG_LEVEL": level}).log_level == level.strip().upper()


@pytest.mark.parametrize("level", ["LOUD", "WARN", "10", "verbose"])
def test_log_level_must_be_a_logging_level_name(level):
    assert _refused({"LOG_LEVEL": level}) == (
        f"LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {level!r}"
    )


@pytest.mark.parametrize("name", NUMBERS)
@pytest.mark.parametrize("value", ["abc", "0", "-1", "inf", "nan", "5 MB"])
def test_limits_must_be_positive_finite_numbers(name, value):
    assert _refused({name: value}) == f"{name} must be a positive number, got {value!r}"


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "on"])
def test_store_inputs_accepts_the_usual_true_words(value):
    assert Settings.from_env({"STORE_INPUTS": value}).store_inputs is True


@pytest.mark.parametrize("value", ["0", "false", "no", "off"])
def test_store_inputs_accepts_the_usual_false_words(value):
    assert Settings.from_env({"STORE_INPUTS": value}).store_inputs is False


@pytest.mark.parametrize("value", ["maybe", "2", "enabled"])
def test_store_inputs_refuses_anything_else_instead_of_reading_it_as_off(value):
    refusal = _refused({"STORE_INPUTS": value})
    assert refusal == f"STORE_INPUTS must be true or false (1/0, yes/no, on/off), got {value!r}"


def test_auth_users_lists_users_with_werkzeug_hashes_and_skips_empty_entries():
    alice, bob = generate_password_hash("a-secret"), generate_password_hash("b-secret")
    users = Settings.from_env({"AUTH_USERS": f" alice:{alice} ,, bob:{bob},"}).users
    assert users == {"alice": alice, "bob": bob}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("alice-without-hash", "AUTH_USERS must look like user:password-hash,user2:password-hash, got a malformed"),
        ("alice:pbkdf2:x$s$h,:pbkdf2:x$s$h", "got a malformed entry 2"),
        ("alice:pbkdf2:x$s$h,alice:pbkdf2:y$s$h", "AUTH_USERS must name each user once, got 'alice' twice"),
        ("alice:hunter2", "AUTH_USERS must hold Werkzeug password hashes (method$salt$hash), got something else for"),
    ],
)
def test_auth_users_refuses_malformed_lists_without_echoing_passwords(value, message):
    refusal = _refused({"AUTH_USERS": value})
    assert message in refusal
    assert "hunter2" not in refusal and "$s$h" not in refusal


def test_plain_passwords_are_refused_when_given_directly_too():
    with pytest.raises(CoreError, match="AUTH_USERS must hold Werkzeug password hashes"):
        Settings(users={"alice": "hunter2"})


def test_database_url_needs_a_scheme_and_is_never_echoed():
    refusal = _refused({"DATABASE_URL": "alice:hunter2@db.example/audit"})
    assert refusal.startswith("DATABASE_URL must be a database URL such as postgresql://")
    assert "hunter2" not in refusal


def test_the_paas_postgres_url_goes_to_psycopg_3_and_the_default_is_sqlite_in_artifacts(tmp_path):
    url = Settings.from_env({"DATABASE_URL": "postgres://u:p@host:5432/db"}).audit_database_url
    assert url == "postgresql+psycopg://u:p@host:5432/db"
    assert Settings(artifacts_dir=tmp_path).audit_database_url == f"sqlite:///{tmp_path.resolve() / 'audit.db'}"


@pytest.mark.parametrize("name", ["ARTIFACTS_DIR", "DEMO_DATA_DIR"])
def test_folders_may_be_missing_but_not_files(tmp_path, name):
    assert Settings.from_env({name: str(tmp_path / "not-yet")})
    existing = tmp_path / "a-file"
    existing.write_text("x")
    assert _refused({name: str(existing)}) == f"{name} must be a folder, got {str(existing)!r}, which is a file"


def test_several_wrong_values_are_reported_together_on_one_line():
    refusal = _refused({"LOG_LEVEL": "LOUD", "MAX_UPLOAD_MB": "-1"})
    assert refusal == (
        "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'LOUD'; "
        "MAX_UPLOAD_MB must be a positive number, got '-1'"
    )
    assert "\n" not in refusal and "pydantic" not in refusal


def test_explicit_values_are_validated_by_the_same_rules():
    with pytest.raises(CoreError, match=r"^MAX_UPLOAD_MB must be a positive number, got -2\.5$"):
        Settings(max_upload_mb=-2.5)
    with pytest.raises(CoreError, match="'max_upload' is not a setting"):
        Settings(max_upload=5)


def test_settings_are_frozen_and_their_repr_hides_secrets():
    hashed = generate_password_hash("a-secret")
    settings = Settings.from_env({"AUTH_USERS": f"alice:{hashed}", "DATABASE_URL": "postgres://u:hunter2@h/db"})
    with pytest.raises(ValidationError, match="frozen"):
        settings.log_level = "DEBUG"
    assert "hunter2" not in repr(settings) and hashed not in repr(settings)
