"""Build step of the wheel (the metadata is in pyproject.toml).

The repository's layout keeps the page templates in the top-level ``templates/`` and takes the
front-end assets from npm (``node_modules/``); a wheel holds only its packages. ``build_py``
therefore copies them into the built package (``pcnreg/templates``, ``pcnreg/frontend/...``, see
``pcnreg/resources.py`` for the table and the files taken), where the installed app finds them.
An editable install needs no copy: the app reads the checkout's own folders.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.errors import SetupError

ROOT = Path(__file__).resolve().parent


def _shipped():
    """(source, destination, patterns) from pcnreg/resources.py, read without importing pcnreg
    (its dependencies need not be installed at build time)."""
    namespace: dict = {"__file__": str(ROOT / "pcnreg" / "resources.py")}
    exec(compile((ROOT / "pcnreg" / "resources.py").read_text(encoding="utf-8"), "resources.py", "exec"), namespace)
    return namespace["SHIPPED"]


class build_py_with_resources(build_py):
    """build_py, then the templates, front-end assets and geodata manifest into the package."""

    def run(self):
        super().run()
        if self.editable_mode:
            return
        package = Path(self.build_lib) / "pcnreg"
        for source, destination, patterns in _shipped():
            src, dst = ROOT / source, package / destination
            if not src.is_dir():
                raise SetupError(f"{source}/ is missing: the wheel needs it"
                                 + (" (run `npm ci` first)" if source.startswith("node_modules") else ""))
            if dst.exists():
                shutil.rmtree(dst)
            files = [p for p in src.rglob("*")] if patterns is None else [
                p for pattern in patterns for p in src.glob(pattern)]
            for path in files:
                if path.is_file() and "__pycache__" not in path.parts:
                    target = dst / path.relative_to(src)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target)
            if not any(dst.rglob("*")):
                raise SetupError(f"nothing to ship from {source}/")


setup(cmdclass={"build_py": build_py_with_resources})
