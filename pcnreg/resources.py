"""Where pcnreg's files are: in a source checkout and in an installed wheel.

The layout of the repository is fixed: the page templates are in the top-level ``templates/``,
the front-end assets come from npm into ``node_modules/``, the geodata manifest is
``geodata/manifest.json``. A wheel cannot hold files outside its packages, so the build
(``setup.py``, a ``build_py`` step) copies them into the package:

=========================================  ==========================================
source checkout (editable install)          installed wheel
=========================================  ==========================================
``templates/``                              ``pcnreg/templates/``
``node_modules/nhsuk-frontend/dist/nhsuk``  ``pcnreg/frontend/nhsuk/`` (built files only)
``node_modules/leaflet/dist``               ``pcnreg/frontend/leaflet/`` (built files only)
``geodata/manifest.json``                   ``pcnreg/geodata/manifest.json``
``instance/``                               ``<sys.prefix>/var/pcnreg-instance/``
=========================================  ==========================================

The demo data, contract years, static files and migrations already live in the package and
ship as package data. A source checkout is recognised by its ``pyproject.toml`` and
``templates/`` beside the package; anything else is an installed package.
"""

from __future__ import annotations

import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
SOURCE_CHECKOUT = (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "templates").is_dir()

# What the build copies into the package: (source in the checkout, destination in the package,
# the files to take, as glob patterns relative to the source; None: the whole folder).
NHSUK_FILES = ("nhsuk-frontend.min.css", "nhsuk-frontend.min.js", "assets/**/*")
LEAFLET_FILES = ("leaflet.js", "leaflet.css", "images/*.png")
SHIPPED = (
    ("templates", "templates", None),
    ("node_modules/nhsuk-frontend/dist/nhsuk", "frontend/nhsuk", NHSUK_FILES),
    ("node_modules/leaflet/dist", "frontend/leaflet", LEAFLET_FILES),
    ("geodata", "geodata", ("manifest.json",)),
)


def _where(checkout: str, package: str) -> Path:
    return REPO_ROOT / checkout if SOURCE_CHECKOUT else PACKAGE_DIR / package


TEMPLATES = _where("templates", "templates")
NHSUK_FRONTEND = _where("node_modules/nhsuk-frontend/dist/nhsuk", "frontend/nhsuk")
LEAFLET = _where("node_modules/leaflet/dist", "frontend/leaflet")
GEODATA_MANIFEST = _where("geodata", "geodata") / "manifest.json"
INSTANCE = REPO_ROOT / "instance" if SOURCE_CHECKOUT else Path(sys.prefix) / "var" / "pcnreg-instance"
