"""Configuration from the environment (pcnreg.config): secret key, database URL, geodata."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pcnreg import config as cfg
from pcnreg import create_app

ENV = ("PCNREG_DATABASE_URL", "PCNREG_GEODATA", "PCNREG_SECRET_KEY", "PCNREG_ASSETS",
       "PCNREG_MAX_UPLOAD_MB", "PCNREG_INSTANCE")


@pytest.fixture(autouse=True)
def clean_env(tmp_path, monkeypatch) -> Path:
    """No PCNREG_* settings from the caller's shell; the instance folder is a fresh temp dir."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    instance = tmp_path / "instance"
    monkeypatch.setenv("PCNREG_INSTANCE", str(instance))
    return instance


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- secret key ------------------------------------------------------------------------------

def test_secret_key_generated_on_first_run_with_mode_0600(clean_env):
    key_file = clean_env / "secret_key"
    assert not clean_env.exists()

    app = create_app()

    assert app.instance_path == str(clean_env)
    assert key_file.is_file()
    assert _mode(key_file) == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 32
    assert app.config["SECRET_KEY"] == key


def test_secret_key_mode_0600_even_with_a_permissive_umask(clean_env):
    old = os.umask(0)
    try:
        cfg.load_secret_key(clean_env)
    finally:
        os.umask(old)
    assert _mode(clean_env / "secret_key") == 0o600


def test_secret_key_reused_on_next_run(clean_env):
    first = create_app().config["SECRET_KEY"]
    mtime = (clean_env / "secret_key").stat().st_mtime_ns

    second = create_app().config["SECRET_KEY"]

    assert second == first
    assert (clean_env / "secret_key").stat().st_mtime_ns == mtime
    assert cfg.load_secret_key(clean_env) == first


def test_secret_keys_differ_between_instances(tmp_path):
    assert cfg.load_secret_key(tmp_path / "a") != cfg.load_secret_key(tmp_path / "b")


def test_secret_key_from_environment(clean_env, monkeypatch):
    monkeypatch.setenv("PCNREG_SECRET_KEY", "from-the-environment")

    app = create_app()

    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert not (clean_env / "secret_key").exists()


def test_secret_key_from_environment_beats_the_file(clean_env, monkeypatch):
    stored = cfg.load_secret_key(clean_env)
    monkeypatch.setenv("PCNREG_SECRET_KEY", "from-the-environment")

    assert create_app().config["SECRET_KEY"] == "from-the-environment"
    assert (clean_env / "secret_key").read_text().strip() == stored


def test_empty_secret_key_variable_means_unset(clean_env, monkeypatch):
    monkeypatch.setenv("PCNREG_SECRET_KEY", "")

    key = create_app().config["SECRET_KEY"]

    assert key and key == (clean_env / "secret_key").read_text().strip()


# --- database URL ----------------------------------------------------------------------------

def test_database_url_default_is_sqlite_in_instance(clean_env):
    app = create_app()

    expected = f"sqlite:///{clean_env / 'pcnreg.sqlite'}"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == expected


def test_database_url_from_environment(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"
    monkeypatch.setenv("PCNREG_DATABASE_URL", url)

    app = create_app()

    assert app.config["SQLALCHEMY_DATABASE_URI"] == url
    from pcnreg.extensions import db

    with app.app_context():
        try:
            assert db.engine.url.database == str(tmp_path / "elsewhere.sqlite")
        finally:
            db.engine.dispose()


def test_postgresql_url_from_environment(monkeypatch):
    url = "postgresql+psycopg://someone@127.0.0.1:5432/somedb"
    monkeypatch.setenv("PCNREG_DATABASE_URL", url)

    assert cfg.build_config(cfg.default_instance_path())["SQLALCHEMY_DATABASE_URI"] == url


def test_test_config_overrides_environment(monkeypatch):
    monkeypatch.setenv("PCNREG_DATABASE_URL", "sqlite:///from-env.sqlite")

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite:///from-test.sqlite"})

    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///from-test.sqlite"


# --- geodata ---------------------------------------------------------------------------------

def test_geodata_from_environment(tmp_path, monkeypatch):
    folder = tmp_path / "geo"
    folder.mkdir()
    monkeypatch.setenv("PCNREG_GEODATA", str(folder))

    assert cfg.default_geodata() == folder
    assert create_app().config["GEODATA_PATH"] == folder


def test_geodata_empty_string_means_none(tmp_path, monkeypatch):
    # Even when ../shared/geodata exists beside the checkout.
    repo = tmp_path / "repo"
    (tmp_path / "shared" / "geodata").mkdir(parents=True)
    monkeypatch.setattr(cfg, "REPO_ROOT", repo)
    monkeypatch.setenv("PCNREG_GEODATA", "")

    assert cfg.default_geodata() is None
    assert create_app().config["GEODATA_PATH"] is None


def test_geodata_default_is_shared_beside_the_checkout(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    monkeypatch.setattr(cfg, "REPO_ROOT", repo)
    assert cfg.default_geodata() is None

    (tmp_path / "shared" / "geodata").mkdir(parents=True)
    assert cfg.default_geodata() == tmp_path / "shared" / "geodata"


# --- the rest --------------------------------------------------------------------------------

def test_instance_path_from_environment(clean_env):
    assert cfg.default_instance_path() == clean_env


def test_upload_limit_from_environment(monkeypatch):
    assert create_app().config["MAX_CONTENT_LENGTH"] == 25 * 1024 * 1024
    monkeypatch.setenv("PCNREG_MAX_UPLOAD_MB", "3")

    app = create_app()

    assert app.config["MAX_CONTENT_LENGTH"] == 3 * 1024 * 1024
    assert app.config["MAX_IMPORT_BYTES"] == 3 * 1024 * 1024


def test_assets_path_from_environment(tmp_path, monkeypatch):
    assert create_app().config["ASSETS_PATH"] == (
        cfg.REPO_ROOT / "node_modules" / "nhsuk-frontend" / "dist" / "nhsuk")
    monkeypatch.setenv("PCNREG_ASSETS", str(tmp_path))

    assert create_app().config["ASSETS_PATH"] == tmp_path


def test_csrf_is_on_outside_tests():
    assert create_app().config["WTF_CSRF_ENABLED"] is True


# --- every setting in one place ---------------------------------------------------------------

PACKAGE = Path(cfg.__file__).resolve().parent


def test_no_other_module_reads_the_environment():
    import re

    reads = re.compile(r"os\.environ\.get|os\.getenv|getenv\(|os\.environ\[|from os import (environ|getenv)")
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if p.name != "config.py" and reads.search(p.read_text())]
    assert offenders == []


def test_config_does_not_import_the_services():
    import subprocess
    import sys

    code = "import sys, pcnreg.config; print(sorted(m for m in sys.modules if m.startswith('pcnreg.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout
    assert "pcnreg.services" not in out and "pcnreg.views" not in out


def test_every_setting_named_in_the_package_is_in_the_one_table():
    import re

    named = set()
    for p in PACKAGE.rglob("*.py"):
        named |= set(re.findall(r"PCNREG_[A-Z][A-Z_]*[A-Z]\b(?!_?\*)", p.read_text()))
    named -= {"PCNREG_NOW"}                       # an app.config key of the tests' clock, not a variable
    assert named <= cfg.NAMES, named - cfg.NAMES


def test_the_readme_documents_the_settings_in_one_table():
    readme = (PACKAGE.parent / "README.md").read_text()
    assert cfg.markdown_table() in readme
    assert readme.count("| variable | default | meaning |") == 1
    for setting in cfg.SETTINGS:
        assert setting.default and setting.meaning, setting.name


def test_a_name_outside_the_table_cannot_be_read():
    with pytest.raises(KeyError):
        cfg._Environment({"PCNREG_SURPRISE": "1"}).text("PCNREG_SURPRISE")


def test_build_config_reads_the_mapping_it_is_given(tmp_path):
    environ = {"PCNREG_DATABASE_URL": "sqlite:///given.sqlite", "PCNREG_SECRET_KEY": "k",
               "PCNREG_SMTP_HOST": "smtp.example.org", "PCNREG_SMTP_PORT": "587", "PCNREG_SMTP_STARTTLS": "yes",
               "PCNREG_SMTP_FROM": "lmc@example.org", "PCNREG_SECURE_COOKIES": "off",
               "PCNREG_TASK_QUEUE": "immediate", "PCNREG_UPLOAD_FOLDER": str(tmp_path / "up"),
               "PCNREG_MAP_TILE_URL": "", "PCNREG_TRUSTED_PROXIES": "2"}
    config = cfg.build_config(tmp_path, environ)
    assert config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///given.sqlite" and config["SECRET_KEY"] == "k"
    assert (config["SMTP_HOST"], config["SMTP_PORT"], config["SMTP_STARTTLS"], config["SMTP_FROM"]) == \
        ("smtp.example.org", 587, True, "lmc@example.org")
    assert config["SMTP_USER"] is None and config["SMTP_PASSWORD"] is None
    assert config["SECURE_COOKIES"] is False
    assert config["TASK_QUEUE"] == "immediate" and config["TASK_QUEUE_PATH"] == tmp_path / "tasks.sqlite"
    assert config["UPLOAD_FOLDER"] == tmp_path / "up"
    assert config["MAP_TILE_URL"] is None and config["MAP_TILE_ATTRIBUTION"] == ""
    assert config["TRUSTED_PROXIES"] == 2


def test_defaults_when_nothing_is_set(tmp_path):
    config = cfg.build_config(tmp_path, {"PCNREG_SECRET_KEY": "k"})
    assert config["SMTP_HOST"] is None and config["SMTP_PORT"] == 25 and config["SMTP_STARTTLS"] is False
    assert config["SMTP_FROM"] == "pcnreg@localhost"
    assert config["SECURE_COOKIES"] is None                      # the guard decides: on unless debug/testing
    assert config["TASK_QUEUE"] == "sqlite"
    assert (config["SESSION_IDLE_MINUTES"], config["SESSION_MAX_HOURS"], config["MAX_AREA_VERTICES"]) == \
        (30, 12, 100_000)
    assert config["AUDIT_ANCHOR"] == tmp_path / "audit-anchor.log"


@pytest.mark.parametrize("name, value", [
    ("PCNREG_SMTP_PORT", "smtp"), ("PCNREG_SMTP_PORT", "0"), ("PCNREG_MAX_UPLOAD_MB", "-3"),
    ("PCNREG_SESSION_IDLE_MINUTES", "½"), ("PCNREG_TRUSTED_PROXIES", "11"),
    ("PCNREG_SECURE_COOKIES", "maybe"), ("PCNREG_SMTP_STARTTLS", "sometimes"),
])
def test_a_malformed_setting_is_refused_with_its_name(tmp_path, name, value):
    with pytest.raises(ValueError, match=name):
        cfg.build_config(tmp_path, {"PCNREG_SECRET_KEY": "k", name: value})


def test_the_task_queue_is_read_before_the_app_exists(tmp_path):
    assert cfg.task_queue({"PCNREG_INSTANCE": str(tmp_path)}) == ("sqlite", tmp_path / "tasks.sqlite")
    assert cfg.task_queue({"PCNREG_TASK_QUEUE": " redis://q:6379/0 ", "PCNREG_TASK_QUEUE_PATH": "/x/q.sqlite"}) == \
        ("redis://q:6379/0", Path("/x/q.sqlite"))


def test_the_guard_takes_secure_cookies_from_the_app_config():
    app = create_app({"TESTING": True, "SECURE_COOKIES": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["REMEMBER_COOKIE_SECURE"] is True
