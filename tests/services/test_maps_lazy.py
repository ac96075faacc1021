"""The maps package loads its submodules (and so folium, geopandas and pandas) on first use.

A process that draws no map — ``pcnreg check``, a command-line import, the task worker — starts
without them (about 0.7 s of imports), and ``maps.<name>`` still gives every public name.
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

from pcnreg.services import maps

HEAVY = ("folium", "branca", "geopandas", "pandas", "openpyxl")


def test_the_app_and_its_cli_start_without_the_map_and_workbook_libraries(tmp_path):
    code = (
        "import sys\n"
        "from pcnreg.cli import main\n"            # the console script's module
        "from pcnreg import create_app\n"
        "app = create_app()\n"
        "with app.test_request_context('/'):\n"
        "    pass\n"
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    env = {**os.environ, "PCNREG_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite'}",
           "PCNREG_INSTANCE": str(tmp_path / "instance"), "PCNREG_SECRET_KEY": "test", "PCNREG_GEODATA": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"imported at start: {out.stdout.strip()}"


@pytest.mark.parametrize("name", sorted(maps.__all__))
def test_every_public_name_is_its_submodules_own(name):
    home = importlib.import_module(f"pcnreg.services.maps.{maps._HOME[name]}")
    assert getattr(maps, name) is getattr(home, name)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_map"):
        maps.no_such_map  # noqa: B018
    assert set(maps.__all__) == set(maps._HOME)
    assert maps.export is importlib.import_module("pcnreg.services.maps.export")     # a submodule by name
