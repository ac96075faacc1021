"""Front-end assets come from this app only (offline NHS networks): no other host is named."""
from __future__ import annotations

import re

import pytest

EXTERNAL = re.compile(rb"url\(\s*['\"]?(https?:)?//")


@pytest.mark.parametrize("path", ["/assets/nhsuk-frontend.min.css", "/assets/leaflet/leaflet.css"])
def test_stylesheets_reference_no_other_host(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.content_type.startswith("text/css")
    assert not EXTERNAL.search(response.data)


def test_nhs_stylesheet_keeps_its_rules_but_not_the_remote_fonts(client):
    css = client.get("/assets/nhsuk-frontend.min.css").data
    assert b".nhsuk-header" in css and b"assets.nhs.uk" not in css and b"arial" in css.lower()


@pytest.mark.parametrize("path,status", [
    ("/assets/nhsuk-frontend.min.js", 200), ("/assets/images/favicon.svg", 200),
    ("/assets/leaflet/leaflet.js", 200), ("/assets/leaflet/images/layers.png", 200),
    ("/assets/nhsuk-frontend.min.css.map", 404), ("/assets/../package.json", 404),
    ("/assets/leaflet/leaflet-src.js", 404), ("/assets/index.scss", 404),
])
def test_only_built_files_are_served(client, path, status):
    assert client.get(path).status_code == status
