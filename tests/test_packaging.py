"""What the wheel ships, checked quickly against the checkout (the full proof, an installed wheel
serving the demo, is tests/test_wheel.py, run by ``make wheel-check``)."""

from __future__ import annotations

import tomllib

from pcnreg import resources
from pcnreg.resources import PACKAGE_DIR, REPO_ROOT


def _package_data_patterns() -> list[str]:
    config = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return config["tool"]["setuptools"]["package-data"]["pcnreg"]


def _is_module(path) -> bool:
    """A .py file of a Python package (shipped as code, not as data)."""
    return path.suffix == ".py" and (path.parent / "__init__.py").is_file()


def test_every_file_of_the_package_ships():
    """A data file added under pcnreg/ (demo data, a contract year, a migration, a static file)
    that no package-data pattern names would be missing from the wheel."""
    shipped = {p for pattern in _package_data_patterns() for p in PACKAGE_DIR.glob(pattern) if p.is_file()}
    files = [p for p in PACKAGE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts
             and not _is_module(p)]
    assert files, "no data files found: the test looks in the wrong place"
    assert sorted(str(p.relative_to(PACKAGE_DIR)) for p in files if p not in shipped) == []


def test_the_demo_and_contract_year_files_are_package_data():
    names = {p.relative_to(PACKAGE_DIR).as_posix() for pattern in _package_data_patterns()
             for p in PACKAGE_DIR.glob(pattern)}
    assert "demo_data/notts-round-2019.json" in names
    assert "contract_years/2019-20.json" in names
    assert "migrations/env.py" in names and "migrations/alembic.ini" in names
    assert "static/pcnreg.css" in names


def test_a_checkout_reads_its_own_folders():
    assert resources.SOURCE_CHECKOUT
    assert resources.TEMPLATES == REPO_ROOT / "templates" and (resources.TEMPLATES / "layout.html").is_file()
    assert resources.NHSUK_FRONTEND == REPO_ROOT / "node_modules" / "nhsuk-frontend" / "dist" / "nhsuk"
    assert resources.LEAFLET == REPO_ROOT / "node_modules" / "leaflet" / "dist"
    assert resources.GEODATA_MANIFEST == REPO_ROOT / "geodata" / "manifest.json"
    assert resources.GEODATA_MANIFEST.is_file()


def test_what_the_build_copies_exists_in_the_checkout():
    """Each folder setup.py copies into the wheel, and the files the asset views serve."""
    for source, _, patterns in resources.SHIPPED:
        folder = REPO_ROOT / source
        if source.startswith("node_modules") and not folder.is_dir():
            continue                                # `npm ci` not run: the asset tests say so
        assert folder.is_dir(), source
        for pattern in patterns or ("**/*",):
            assert any(folder.glob(pattern)), (source, pattern)
