"""Behind a proxy: ProxyFix for a configured number of trusted proxies, so the per-address
sign-in limit sees the real address and HTTPS at the proxy gives HSTS (issue #12, item 9)."""
from __future__ import annotations

import pytest
from conftest import make_user

from pcnreg import create_app
from pcnreg.extensions import db as _db

PASSWORD = "correct horse battery 9"


def _app(monkeypatch, tmp_path, migrated_url, proxies: str | None):
    monkeypatch.setenv("PCNREG_INSTANCE", str(tmp_path / "instance"))
    if proxies is None:
        monkeypatch.delenv("PCNREG_TRUSTED_PROXIES", raising=False)
    else:
        monkeypatch.setenv("PCNREG_TRUSTED_PROXIES", proxies)
    return create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": migrated_url, "WTF_CSRF_ENABLED": False})


def _fail(client, forwarded: str):
    return client.post("/sign-in", data={"email": "nobody@nhs.example", "password": "wrong password 1"},
                       headers={"X-Forwarded-For": forwarded})


def test_behind_one_proxy_the_limit_is_per_real_address(monkeypatch, tmp_path, migrated_url):
    app = _app(monkeypatch, tmp_path, migrated_url, "1")
    with app.app_context():
        make_user("jo@nhs.example", [("viewer", "all", None)], password=PASSWORD)
        client = app.test_client(anonymous=True)
        for _ in range(20):
            assert _fail(client, "203.0.113.7").status_code == 400
        assert _fail(client, "203.0.113.7").status_code == 429             # that client is blocked
        other = client.post("/sign-in", data={"email": "jo@nhs.example", "password": PASSWORD},
                            headers={"X-Forwarded-For": "198.51.100.9"})
        assert other.status_code == 302                                     # not everyone behind the proxy
        secure = client.get("/about", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.9"})
        assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
        plain = client.get("/about", headers={"X-Forwarded-For": "198.51.100.9"})
        assert "Strict-Transport-Security" not in plain.headers
        _db.session.remove()


def test_without_trusted_proxies_forwarded_headers_are_ignored(monkeypatch, tmp_path, migrated_url):
    app = _app(monkeypatch, tmp_path, migrated_url, None)
    assert app.config["TRUSTED_PROXIES"] == 0
    with app.app_context():
        client = app.test_client(anonymous=True)
        for n in range(20):
            assert _fail(client, f"203.0.113.{n}").status_code == 400      # a forged address per try...
        assert _fail(client, "203.0.113.99").status_code == 429            # ...does not escape the limit
        forged = client.get("/about", headers={"X-Forwarded-Proto": "https"})
        assert "Strict-Transport-Security" not in forged.headers
        _db.session.remove()


def test_a_bad_setting_is_refused(monkeypatch, tmp_path, migrated_url):
    with pytest.raises(ValueError, match="PCNREG_TRUSTED_PROXIES"):
        _app(monkeypatch, tmp_path, migrated_url, "many")
