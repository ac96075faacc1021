"""A non-editable install serves the demo: the wheel built from this checkout, installed into a
folder of its own, runs ``pcnreg db upgrade`` and ``pcnreg demo`` from a directory outside the
repository and serves a page, the NHS.UK assets, Leaflet and the app's own static files, with
nothing read from the checkout (templates, node_modules, demo data, contract years, migrations).

Built with pip's build isolation (the build backend pinned in pyproject.toml). Slow: about two
minutes on the shared 2-core machine; ``make wheel-check`` and ``.ci/run`` run it, the default
suite leaves it out (``-m "not wheel"`` in pyproject's addopts)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pcnreg.resources import REPO_ROOT, SHIPPED

pytestmark = pytest.mark.wheel

# Not copied into the build tree: version control, local state, build output.
IGNORED = shutil.ignore_patterns(".git", ".venv", "node_modules", "instance", "build", "dist", "*.egg-info",
                                 "__pycache__", ".pytest_cache", ".hypothesis", "test-artifacts", "tests", "benchmarks")

CHECK = textwrap.dedent("""
    import sys
    from pathlib import Path

    import pcnreg
    from pcnreg import create_app
    from pcnreg.extensions import db
    from pcnreg.models import Practice, RegistrationRound

    here = Path(pcnreg.__file__).resolve().parent
    assert here.is_relative_to(Path(sys.argv[1])), here        # the installed copy, not the checkout
    app = create_app()
    assert Path(app.template_folder).is_relative_to(here), app.template_folder
    client = app.test_client()
    with app.app_context():
        rounds = db.session.scalars(db.select(RegistrationRound.name)).all()
        practices = db.session.scalar(db.select(db.func.count(Practice.id)))
    for path, kind, needle in [
            ("/", "text/html", b"nhsuk-header"),
            ("/about", "text/html", b"nhsuk-frontend.min.css"),
            ("/assets/nhsuk-frontend.min.css", "text/css", b".nhsuk-header"),
            ("/assets/nhsuk-frontend.min.js", "javascript", b""),
            ("/assets/images/favicon.ico", "image/", b""),
            ("/assets/leaflet/leaflet.js", "javascript", b"Leaflet"),
            ("/static/pcnreg.css", "text/css", b"")]:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        assert kind in response.content_type and needle in response.data, (path, response.content_type)
    print("rounds:", len(rounds), "practices:", practices)
""")


def _run(args, cwd: Path, env: dict, timeout: int = 600) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_an_installed_wheel_serves_the_demo(tmp_path):
    for source, _, _ in SHIPPED:
        if not (REPO_ROOT / source).is_dir():
            pytest.skip(f"{source}/ is missing (run `npm ci`)")
    timings = {}
    start = time.perf_counter()
    # A copy of the checkout (a stale build/ of the checkout must not reach the wheel); node_modules
    # linked, as the build only reads it.
    tree = tmp_path / "src"
    shutil.copytree(REPO_ROOT, tree, ignore=IGNORED)
    (tree / "node_modules").symlink_to((REPO_ROOT / "node_modules").resolve())
    dist, target, elsewhere = tmp_path / "dist", tmp_path / "site", tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PCNREG_") and k != "PYTHONPATH"}
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "-q"]
    _run([*pip, "wheel", "--no-deps", "-w", str(dist), str(tree)], tmp_path, env)
    timings["build"] = time.perf_counter() - start
    (wheel,) = dist.glob("pcnreg-*.whl")
    _run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], tmp_path, env)
    timings["install"] = time.perf_counter() - start - timings["build"]

    env.update(PYTHONPATH=str(target), PCNREG_INSTANCE=str(tmp_path / "instance"), PCNREG_GEODATA="",
               PCNREG_DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite'}")
    pcnreg = [sys.executable, "-c", "import sys; from pcnreg.cli import main; sys.argv[0] = 'pcnreg'; main()"]
    _run([*pcnreg, "db", "upgrade"], elsewhere, env)
    out = _run([*pcnreg, "demo", "--no-upgrade"], elsewhere, env)
    assert "No geodata folder" in out and "Demo users" in out, out
    timings["upgrade+demo"] = time.perf_counter() - start - timings["build"] - timings["install"]
    checked = _run([sys.executable, "-c", CHECK, str(target)], elsewhere, env)
    rounds, practices = int(checked.split()[1]), int(checked.split()[3])
    assert rounds >= 2 and practices > 100, checked
    timings["total"] = time.perf_counter() - start
    print("wheel check: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
