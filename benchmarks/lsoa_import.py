"""The streamed import of a national-size LSOA registrations file (issue #14).

NHS England's England-wide *Patients Registered at a GP Practice* LSOA file is about 30 MB; the
importer streams it. This benchmark onboards Staffordshire and Stoke-on-Trent (QNC, 2026/27) into a
temporary SQLite database, writes a synthetic ~30 MB file of the same layout (the Staffordshire
file plus made-up practices elsewhere in England, on real LSOA 2021 codes), and imports it into
the round in a child process, twice: once plain, for the time and the peak resident memory
(the peak resident set, VmHWM, reset just before the import; its growth over the resident set
then), once under ``tracemalloc`` for the Python heap's
peak. It fails (exit 1) when the heap's peak exceeds ``HEAP_BOUND`` or half the file's size.

    python -m benchmarks lsoa-import          (needs ../shared/geodata)
"""
from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

HEAP_BOUND = 16 * 1024 * 1024
ROUND = "Staffs 2026/27"
LSOA_FILE = "gp-reg-pat-prac-lsoa-staffordshire-2025-10.csv"
ONBOARD = {"--organisations": "lsoa21-sicbl24-icb24-lad22-lookup-england.csv",
           "--areas": "lsoa21-sicbl24-icb24-lad22-lookup-england.csv", "--practices": "epraccur-2025-09.csv",
           "--list-sizes": "gp-reg-pat-prac-all-2026-04.csv", "--configuration": "gp-reg-pat-prac-map-2026-01.csv",
           "--blocks": "lsoa21-england.geojson.gz"}


def synthetic(path: Path, geodata: Path, size_mb: float = 30.0) -> int:
    """The Staffordshire file plus rows of made-up practices elsewhere in England, to ~size_mb."""
    import csv

    rnd = random.Random(14)
    target = int(size_mb * 1024 * 1024)
    with open(geodata / ONBOARD["--organisations"], newline="", encoding="utf-8-sig") as fh:
        codes = sorted({row["LSOA21CD"] for row in csv.DictReader(fh)})
    with open(path, "w", newline="") as out:
        out.write((geodata / LSOA_FILE).read_text())
        written = out.tell()
        n = 0
        while written < target:
            line = (f"GP_PRAC_PAT_LIST,2025-10-01,Z{n // 120:05d},SYNTHETIC PRACTICE {n // 120},"
                    f"{rnd.choice(codes)},ALL,{rnd.randrange(1, 400)}\n")
            out.write(line)
            written += len(line)
            n += 1
    return path.stat().st_size


def _status_kb(field: str) -> int:
    """A memory figure of this process from /proc/self/status (kB; 0 where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _reset_peak() -> bool:
    """Reset the process's peak resident memory (Linux: "5" to /proc/self/clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _child(database: str, file: str, traced: bool) -> None:
    """In the child process: import ``file`` into the round; print JSON figures."""
    import resource
    import time
    import tracemalloc

    from pcnreg import create_app
    from pcnreg.services import neighbourhoods as nb
    from pcnreg.services.rounds import get_round

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}"})
    with app.app_context():
        rnd = get_round(ROUND)
        nb.round_practices(rnd)                        # the first queries' memory, before measuring
        reset = _reset_peak()                          # Linux: the peak (VmHWM) starts again from here
        before = _status_kb("VmRSS")
        if traced:
            tracemalloc.start()
        started = time.perf_counter()
        with open(file, "rb") as stream:
            summary = nb.import_lsoa_registrations(rnd, stream, source=Path(file).name)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] if traced else None
        after = _status_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": elapsed, "rss_growth_kb": after - before, "rss_peak_kb": after, "heap_peak": peak,
                      "rows": summary.rows, "practices": summary.practices, "other_practices": summary.other_practices}))


def run(geodata: Path) -> int:
    from pcnreg import create_app

    folder = Path(tempfile.mkdtemp(prefix="pcnreg-bench-lsoa-"))
    database = folder / "db.sqlite"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "GEODATA_PATH": str(geodata)})
    from flask_migrate import upgrade

    with app.app_context():
        upgrade()
    args = ["onboard", "--system", "QNC", "--year", "2026/27", "--round", ROUND]
    for option, name in ONBOARD.items():
        args += [option, str(geodata / name)]
    result = app.test_cli_runner().invoke(args=args)
    if result.exit_code != 0:
        print(result.output)
        return 1
    path = folder / "gp-reg-pat-prac-lsoa-all.csv"
    size = synthetic(path, geodata)
    figures = {}
    for traced in (False, True):
        out = subprocess.run([sys.executable, "-m", "benchmarks.lsoa_import", "--child", str(database), str(path),
                              "traced" if traced else "plain"], capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(out.stdout, out.stderr)
            return 1
        figures[traced] = json.loads(out.stdout.strip().splitlines()[-1])
    plain, traced = figures[False], figures[True]
    print(f"\nsynthetic national LSOA file: {size / 1048576:.1f} MB, {plain['rows']:,} rows, "
          f"{plain['practices']} practices of the round, {plain['other_practices']:,} other practices")
    print(f"import: {plain['seconds']:.1f} s; peak resident memory during the import {plain['rss_peak_kb'] / 1024:.0f} MB "
          f"(+{plain['rss_growth_kb'] / 1024:.0f} MB over the process before it); Python heap peak "
          f"{traced['heap_peak'] / 1048576:.1f} MB (tracemalloc, {traced['seconds']:.1f} s traced)")
    bound = min(size / 2, HEAP_BOUND)
    if traced["heap_peak"] >= bound:
        print(f"FAIL: the heap's peak is over {bound / 1048576:.1f} MB: the file is not streamed")
        return 1
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], sys.argv[3], sys.argv[4] == "traced")
    else:
        sys.exit(run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "geodata"))
