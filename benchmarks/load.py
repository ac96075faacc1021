"""The main pages served by gunicorn to one user and to 50 concurrent users (issue #11), against
the same server's static asset, in one run.

A temporary SQLite database gets the demo (as ``pcnreg demo`` loads it) and a commissioner of
the demo's system; gunicorn serves ``wsgi:app`` on 127.0.0.1 (2 workers x 4 threads, the
production shape on a 2-core machine) with a session signed in through the sign-in form.

- single user: each main page (dashboard, PCN page, practice list, map page, findings,
  registrations) requested one at a time in turns with ``/static/pcnreg.css``; the least of
  several requests of each (as ``benchmarks/pages.py``), the page's median beside it; target: <= 10x the static asset;
- 50 users: 50 client threads with keep-alive connections, for a bounded time, on the static
  asset and over the main pages (each user goes round them from its own starting point), in two
  alternated turns of each; throughput (requests/s) as a share of the static throughput, p95 latency and the
  errors (a status other than 200, or a failed connection); target: >= 15% of the static
  throughput, no errors.

The clients run in one Python process on the same machine as the server (a few threads of
the 50 at a time hold the interpreter): both throughputs are measured the same way, so their
ratio is the comparable figure, not either alone.

``python -m benchmarks.load [seconds]`` (default 8 s per concurrent phase).
"""
from __future__ import annotations

import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATIC = "/static/pcnreg.css"
USERS = 50
WORKERS, THREADS = 2, 4
TARGET_SINGLE = 10.0
TARGET_SHARE = 0.15
# The session is tied to the client's address and user agent (Flask-Login's session protection):
# the clients send the agent the session was signed in with.
AGENT = "pcnreg-load-benchmark"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(instance: Path) -> tuple[dict[str, str], str]:
    """The demo database in ``instance``, a commissioner's session cookie and the main pages' URLs."""
    import logging

    from flask_migrate import upgrade

    from pcnreg import create_app
    from pcnreg.services import accounts, rounds
    from pcnreg.services.demo import load_demo

    app = create_app({"WTF_CSRF_ENABLED": False})
    logging.getLogger("pcnreg.request").setLevel(logging.WARNING)
    with app.app_context():
        upgrade()
        load_demo(None)
        rnd = next(r for r in rounds.list_rounds() if r.name.startswith("Nottingham"))
        pcn = rounds.get_pcn(rnd, "Newark")
        email, password = "load@example.nhs.uk", "load-benchmark-password-2019"
        user = accounts.create_user(email, "Load Benchmark", [("commissioner", "system", rnd.system_id)], "benchmark")
        accounts.accept_invite(accounts.invite(user, "benchmark"), password)
        client = app.test_client()
        response = client.post("/sign-in", data={"email": email, "password": password},
                               headers={"User-Agent": AGENT})
        assert response.status_code == 302, response.status
        cookies = "; ".join(f"{c.key}={c.value}" for c in client._cookies.values())
        urls = {"dashboard": f"/rounds/{rnd.id}", "PCN page": f"/rounds/{rnd.id}/pcns/{pcn.id}",
                "practice list": f"/rounds/{rnd.id}/practices", "map page": f"/rounds/{rnd.id}/map",
                "findings": f"/rounds/{rnd.id}/findings", "registrations": f"/rounds/{rnd.id}/registrations"}
    return urls, cookies


class Server:
    """gunicorn serving ``wsgi:app`` on a free loopback port (stopped by ``stop``, by its own pid)."""

    def __init__(self, env: dict[str, str], log: Path):
        self.port = _free_port()
        gunicorn = Path(sys.executable).with_name("gunicorn")
        self.log = open(log, "wb")     # noqa: SIM115  (open while the server runs; closed by stop)
        self.process = subprocess.Popen(
            [str(gunicorn), "--bind", f"127.0.0.1:{self.port}", "--workers", str(WORKERS), "--threads",
             str(THREADS), "--worker-class", "gthread", "--log-level", "warning", "wsgi:app"],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"gunicorn exited ({self.process.returncode}); see {log}") from None
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start within 60 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class Client:
    """One user: a keep-alive connection sending the session cookie."""

    def __init__(self, port: int, cookies: str):
        self.port, self.headers = port, {"Cookie": cookies, "User-Agent": AGENT}
        self.conn: http.client.HTTPConnection | None = None

    def get(self, url: str) -> int:
        for attempt in (1, 2):       # a kept-alive connection the server closed is opened again, once
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request("GET", url, headers=self.headers)
                response = self.conn.getresponse()
                response.read()
                if response.getheader("Connection", "").lower() == "close":
                    self.close()
                return response.status
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def single_user(port: int, cookies: str, urls: dict[str, str], repeat: int = 15) -> dict[str, tuple]:
    """For each page: (least, median seconds of the page, least seconds of the static asset),
    requested one at a time in turns with the static asset (a load that comes and goes moves both)."""
    client = Client(port, cookies)
    out = {}
    for name, url in urls.items():
        page, static = [], []
        for i in range(repeat + 2):
            for times, target in ((static, STATIC), (page, url)):
                start = time.perf_counter()
                status = client.get(target)
                elapsed = time.perf_counter() - start
                if status != 200:
                    raise RuntimeError(f"{target}: {status}")
                if i >= 2:           # the first requests warm the state cache
                    times.append(elapsed)
        out[name] = (min(page), statistics.median(page), min(static))
    client.close()
    return out


def concurrent(port: int, cookies: str, urls: list[str], seconds: float, users: int = USERS) -> dict:
    """``users`` threads requesting ``urls`` round-robin for ``seconds``: the latencies, the
    seconds from the start to the last response, the errors."""
    latencies: list[list[float]] = [[] for _ in range(users)]
    errors = [0] * users
    start_line = threading.Barrier(users + 1)
    stop_at = [0.0]

    def user(i: int) -> None:
        client = Client(port, cookies)
        n = i
        start_line.wait()
        while time.perf_counter() < stop_at[0]:
            url = urls[n % len(urls)]
            n += 1
            start = time.perf_counter()
            try:
                ok = client.get(url) == 200
            except OSError:
                ok = False
                client.close()
            latencies[i].append(time.perf_counter() - start)
            if not ok:
                errors[i] += 1
        client.close()

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds + 0.5
    start_line.wait()
    begun = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - begun
    done = sorted(x for user_times in latencies for x in user_times)
    return {"latencies": done, "seconds": elapsed, "errors": sum(errors)}


def _sum(turns: list[dict]) -> dict:
    """The static turns (even) and the pages turns (odd) added up; the pages under "pages"."""
    def add(parts: list[dict]) -> dict:
        done = sorted(x for p in parts for x in p["latencies"])
        elapsed = sum(p["seconds"] for p in parts)
        return {"requests": len(done), "seconds": elapsed, "throughput": len(done) / elapsed,
                "p50": statistics.median(done) if done else float("nan"),
                "p95": done[int(0.95 * (len(done) - 1))] if done else float("nan"),
                "errors": sum(p["errors"] for p in parts)}
    return {**add(turns[0::2]), "pages": add(turns[1::2])}


def run(seconds: float = 8.0) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="pcnreg-load-"))
    env = {**os.environ, "PCNREG_INSTANCE": str(tmp), "PCNREG_SECRET_KEY": "load-benchmark",
           "PCNREG_DATABASE_URL": f"sqlite:///{tmp / 'load.sqlite'}", "PCNREG_SECURE_COOKIES": "0",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    os.environ.update({k: env[k] for k in ("PCNREG_INSTANCE", "PCNREG_SECRET_KEY", "PCNREG_DATABASE_URL",
                                          "PCNREG_SECURE_COOKIES")})
    urls, cookies = prepare(tmp)
    server = Server(env, tmp / "gunicorn.log")
    try:
        single = single_user(server.port, cookies, urls)
        # Two turns of each, alternated, so that a load that comes and goes weighs on both.
        static_load = _sum([concurrent(server.port, cookies, [STATIC], seconds / 2),
                            concurrent(server.port, cookies, list(urls.values()), seconds / 2),
                            concurrent(server.port, cookies, [STATIC], seconds / 2),
                            concurrent(server.port, cookies, list(urls.values()), seconds / 2)])
    finally:
        server.stop()
    pages_load = static_load.pop("pages")
    print(f"\ngunicorn {WORKERS} workers x {THREADS} threads on 127.0.0.1, demo round, signed in as a commissioner "
          "(one run; the machine is shared: figures are noisy, the ratios are the comparable ones)")
    print(f"{'single user':24} {'least ms':>9} {'median ms':>10} {'static ms':>10} {'x static':>9}  "
          f"target <= {TARGET_SINGLE:.0f}x")
    for name, (least, median, static) in single.items():
        ratio = least / static
        met = ratio <= TARGET_SINGLE
        print(f"{name:24} {1000 * least:9.2f} {1000 * median:10.2f} {1000 * static:10.2f} {ratio:9.1f}  "
              + ("met" if met else "NOT met"))
    share = pages_load["throughput"] / static_load["throughput"]
    print(f"\n{USERS} users for {seconds:.0f} s {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>7}")
    for name, r in (("static asset", static_load), ("main pages", pages_load)):
        print(f"{name:22} {r['requests']:9d} {r['throughput']:8.1f} {1000 * r['p50']:8.1f} {1000 * r['p95']:8.1f} "
              f"{r['errors']:7d}")
    met = share >= TARGET_SHARE and pages_load["errors"] == 0 and static_load["errors"] == 0
    print(f"main pages / static throughput = {share:.1%} (target >= {TARGET_SHARE:.0%}, no errors): "
          + ("met" if met else "NOT met"))
    return 0


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 8.0
    return run(seconds)


if __name__ == "__main__":
    sys.exit(main())
