"""What the benchmark scripts share: fresh databases, a real uvicorn, a load generator, tables.

Nothing here asserts anything: the scripts print figures, each beside a baseline measured in
the same run, because the machine (2 cores, shared) is too noisy for absolute numbers to mean
much on their own.

- ``fresh_database(kind)``: a new database migrated with ``alembic upgrade head`` (a temporary
  SQLite file, or a PostgreSQL database of its own, dropped afterwards).
- ``Server``: a uvicorn subprocess on a free loopback port, the way ``ceasefire serve`` runs one
  (one worker, uvicorn's default loop and HTTP parser) but without the access log.
- ``load(...)``: ``wrk`` when it is installed (Debian's ``wrk``: C, one thread drives thousands of
  requests/s, so the load generator is not what is measured), else a few httpx clients in
  separate processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from app.http.edge import uvicorn_arguments  # noqa: E402
from app.services.schema_migrations import upgrade  # noqa: E402
from app.settings import Settings  # noqa: E402
from events.model.types import Event, event_adapter  # noqa: E402

__all__ = [
    "ADMIN_URL",
    "GUARDED",
    "LoadResult",
    "Server",
    "Table",
    "alleged",
    "alleged_json",
    "asyncpg_dsn",
    "fresh_database",
    "load",
    "profile",
    "seed_database",
    "signed",
    "stop_profile",
    "timed",
]

#: Where PostgreSQL is: an admin URL whose server may create and drop databases.
ADMIN_URL = os.environ.get(
    "CEASEFIRE_BENCH_POSTGRES",
    os.environ.get("CEASEFIRE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test"),
)


# -- databases -------------------------------------------------------------------------------


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def asyncpg_dsn(url: str) -> str:
    """``postgresql+asyncpg://…`` as the plain DSN asyncpg and psycopg take."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@contextlib.contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    """A new database of ``kind`` (``sqlite`` or ``postgresql``) at the latest migration; its
    SQLAlchemy URL. Dropped (or deleted) on exit."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="ceasefire-bench-") as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
            upgrade(url)
            yield url
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r}")
    name = f"ceasefire_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        url = f"{base}/{name}"
        upgrade(url)
        yield url
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def sqlite_path(url: str) -> str:
    return url.split("///", 1)[1]


# -- events ----------------------------------------------------------------------------------

AGREEMENT_AT = datetime(2022, 9, 14, 16, 0, tzinfo=UTC)
PARTIES = ("Armenia", "Azerbaijan")
SOURCE = {"name": "Bench Defense Ministry", "url": "https://example.org/bench/statement"}


def signed(conflict: str) -> Event:
    return event_adapter.validate_python(
        {
            "type": "agreement.signed",
            "conflict": conflict,
            "occurred_at": AGREEMENT_AT.isoformat(),
            "source": SOURCE,
            "data": {
                "agreement_id": "cf-1",
                "parties": list(PARTIES),
                "mediators": ["Russia"],
                "kind": "ceasefire",
                "terms": "bench agreement",
            },
        }
    )


def alleged_json(conflict: str, i: int) -> dict[str, Any]:
    """The i-th allegation of a bench run, as a writer sends it (no id: the store gives one)."""
    by, accused = PARTIES if i % 2 == 0 else PARTIES[::-1]
    return {
        "type": "violation.alleged",
        "conflict": conflict,
        "occurred_at": (AGREEMENT_AT + timedelta(days=9, seconds=i)).isoformat(),
        "source": SOURCE,
        "data": {
            "alleged_by": by,
            "accused": accused,
            "location": "eastern direction",
            "description": "fired at positions with small arms and mortars",
            "incidents": 1 + i % 3,
        },
    }


def alleged(conflict: str, i: int) -> Event:
    return event_adapter.validate_python(alleged_json(conflict, i))


# -- timing and tables -----------------------------------------------------------------------


SEED = REPO / "tests" / "fixtures" / "armenia-azerbaijan-2022-09.ndjson"


async def seed_database(url: str, allegations: int, *, writer_key: bool = False) -> str | None:
    """Load the seed article's timeline plus ``allegations`` more under its current agreement
    into the (migrated) database at ``url``; with ``writer_key``, the secret of a new writer
    key."""
    from app.cli.loader import load_lines
    from app.services.api_keys import create_key
    from app.services.appending import Appender
    from events.log.database import create_engine
    from events.log.store import EventStore

    engine = create_engine(url)
    store = EventStore(engine)
    appender = Appender(store)
    try:
        report = await load_lines(appender, SEED.read_text().splitlines())
        if report.bad:
            raise RuntimeError(f"the seed did not load: {report.bad}")
        for i in range(allegations):
            await appender.append([alleged("armenia-azerbaijan", i)])
        if not writer_key:
            return None
        async with engine.begin() as conn:
            _, secret = await create_key(conn, name="bench", role="writer")
        return secret
    finally:
        await store.close()


def timed(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("nan")


@dataclass
class Table:
    """Rows of figures, one column per round, printed with a best-of column and ratios."""

    title: str
    rounds: int
    rows: dict[str, list[float]] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, round_: int, value: float, unit: str = "events/s") -> None:
        self.rows.setdefault(name, [float("nan")] * self.rounds)[round_] = value
        self.units[name] = unit

    def get(self, name: str, round_: int) -> float:
        values = self.rows.get(name)
        return float("nan") if values is None else values[round_]

    def ratio(self, name: str, numerator: str, denominator: str) -> None:
        """Add a row: numerator / denominator, computed within each round."""
        for r in range(self.rounds):
            below = self.get(denominator, r)
            above = self.get(numerator, r)
            self.add(name, r, above / below if below else float("nan"), unit="ratio")

    def target(
        self, name: str, *, minimum: float | None = None, maximum: float | None = None
    ) -> None:
        """A note saying whether the median of row ``name`` holds its target."""
        finite = [v for v in self.rows.get(name, []) if v == v]
        if not finite:
            return
        median = statistics.median(finite)
        holds = (minimum is None or median >= minimum) and (maximum is None or median <= maximum)
        bound = f">= {minimum:g}" if minimum is not None else f"<= {maximum:g}"
        self.notes.append(
            f"{name.split('  (')[0]}: median {median:.2f}, target {bound}: "
            + ("holds" if holds else "SHORT")
        )

    def render(self) -> str:
        width = max([len(n) for n in self.rows] + [10])
        head = (
            f"{'':<{width}}  "
            + "  ".join(f"{'round ' + str(r + 1):>10}" for r in range(self.rounds))
            + f"  {'median':>10}  unit"
        )
        lines = [f"== {self.title}", head]
        for name, values in self.rows.items():
            unit = self.units[name]
            cells = [_cell(v, unit) for v in values]
            finite = [v for v in values if v == v]
            median = statistics.median(finite) if finite else float("nan")
            lines.append(
                f"{name:<{width}}  "
                + "  ".join(f"{c:>10}" for c in cells)
                + f"  {_cell(median, unit):>10}  {unit}"
            )
        lines.extend(f"   {n}" for n in self.notes)
        return "\n".join(lines)


def _cell(value: float, unit: str) -> str:
    if value != value:
        return "-"
    if unit == "ratio":
        return f"{value:.2f}"
    return f"{value:,.0f}"


# -- a real server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


#: The uvicorn options ``ceasefire serve`` bounds its connections with (app/http/edge.py), at the
#: default settings: h11 with its header bound, the connection cap, the keep-alive timeout.
GUARDED = tuple(uvicorn_arguments(Settings()))


class Server:
    """A uvicorn subprocess serving ``target`` (``module:attr``, a factory when ``factory``)."""

    def __init__(
        self,
        target: str,
        *,
        env: dict[str, str] | None = None,
        factory: bool = False,
        ready_path: str = "/healthz",
        extra_args: Sequence[str] = (),
        profile_to: str | None = None,
    ) -> None:
        self.port = free_port()
        self._profile_to = profile_to
        self._spy: subprocess.Popen[bytes] | None = None
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._ready_path = ready_path
        args = [
            sys.executable,
            "-m",
            "uvicorn",
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--no-access-log",
            *(["--factory"] if factory else []),
            *extra_args,
        ]
        self._process = subprocess.Popen(
            args,
            cwd=REPO,
            # No request log lines, as --no-access-log: stderr is a pipe read only at exit,
            # which a line per request would fill, blocking the server.
            env={
                **os.environ,
                "PYTHONPATH": str(REPO),
                "CEASEFIRE_LOG_REQUESTS": "false",
                **(env or {}),
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    "uvicorn exited: " + (self._process.stderr.read() or b"").decode()  # type: ignore[union-attr]
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.base_url + self._ready_path, timeout=1).status_code < 500:
                    if self._profile_to:
                        self._spy = profile(self.pid, self._profile_to)
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("uvicorn did not become ready in 30 s")

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._spy is not None:
            stop_profile(self._spy)
            self._spy = None
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


def profile(pid: int, path: str) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` with py-spy into ``path`` (``.svg``: a flame graph; ``.json``:
    speedscope; anything else: collapsed stacks, one line per stack with its sample count)."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    fmt = {".svg": "flamegraph", ".json": "speedscope"}.get(Path(path).suffix, "raw")
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--rate", "250", "--format", fmt, "-o", path],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # let it attach before the load starts
    return process


def stop_profile(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# -- load ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadResult:
    requests: int
    seconds: float
    bad: int  # responses that were not 2xx (or transport errors)

    @property
    def rate(self) -> float:
        return timed(self.requests - self.bad, self.seconds)


_WRK_SCRIPT = r"""
local path = "%(path)s"
local method = "%(method)s"
local headers = {}
%(headers)s
local templates = %(templates)s
local threads_n = %(threads)d
local counter = 0
local mine = {}
local n = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  -- thread t sends bodies t, t + threads, t + 2 * threads...: a share of its own
  for i, body in ipairs(templates) do
    if #templates < threads_n or (i - 1) %% threads_n == tid then
      table.insert(mine, body)
    end
  end
end

function request()
  if #mine == 0 then
    return wrk.format(method, path, headers)
  end
  n = n + 1
  return wrk.format(method, path, headers, mine[(n %% #mine) + 1])
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def load(
    url: str,
    *,
    connections: int,
    seconds: float,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    bodies: Sequence[str] = (),
    threads: int | None = None,
) -> LoadResult:
    """Drive ``url`` with ``connections`` concurrent keep-alive clients for ``seconds``.

    ``bodies``: request bodies; with more than one, each client thread cycles through a share
    of its own (``threads`` = ``connections`` gives each client its own bodies)."""
    if shutil.which("wrk"):
        return _wrk(url, connections, seconds, method, headers or {}, bodies, threads)
    return _python_load(url, connections, seconds, method, headers or {}, bodies)


def _wrk(
    url: str,
    connections: int,
    seconds: float,
    method: str,
    headers: dict[str, str],
    bodies: Sequence[str],
    threads: int | None,
) -> LoadResult:
    threads = threads or min(connections, 2)
    path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
    base = url[: len(url) - len(path) + 1] if path != "/" else url
    lua = _WRK_SCRIPT % {
        "path": path,
        "method": method,
        "headers": "\n".join(
            f"headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()
        ),
        "templates": "{" + ", ".join(_lua_string(b) for b in bodies) + "}",
        "threads": threads,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        done = subprocess.run(
            [
                "wrk",
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                base,
            ],
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(script.name)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed: {done.stderr.strip() or done.stdout.strip()}")
    out = done.stdout
    total = re.search(r"(\d+) requests in ([\d.]+)(m?s|m)\b", out)
    if total is None:
        raise RuntimeError(f"could not read wrk's output:\n{out}")
    elapsed = float(total.group(2)) * {"s": 1.0, "ms": 0.001, "m": 60.0}[total.group(3)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    n_bad = int(bad.group(1)) if bad else 0
    if errors:
        n_bad += sum(int(g) for g in errors.groups())
    return LoadResult(int(total.group(1)), elapsed, n_bad)


def _python_client(
    url: str,
    method: str,
    headers: dict[str, str],
    bodies: Sequence[str],
    connections: int,
    offset: int,
    stride: int,
    start_at: float,
    seconds: float,
    out: Any,
) -> None:
    async def run() -> tuple[int, int]:
        done = bad = 0
        async with httpx.AsyncClient(
            limits=httpx.Limits(max_connections=connections), timeout=10
        ) as client:
            await asyncio.sleep(max(0.0, start_at - time.time()))
            stop = time.time() + seconds

            async def one(worker: int) -> None:
                nonlocal done, bad
                while time.time() < stop:
                    body = bodies[(offset + worker * stride) % len(bodies)] if bodies else None
                    try:
                        response = await client.request(method, url, headers=headers, content=body)
                        bad += response.status_code >= 300
                    except httpx.HTTPError:
                        bad += 1
                    done += 1

            await asyncio.gather(*(one(w) for w in range(connections)))
        return done, bad

    out.put(asyncio.run(run()))


def _python_load(
    url: str,
    connections: int,
    seconds: float,
    method: str,
    headers: dict[str, str],
    bodies: Sequence[str],
) -> LoadResult:
    processes = min(connections, 2)
    per = [connections // processes + (i < connections % processes) for i in range(processes)]
    queue: Any = multiprocessing.get_context("spawn").Queue()
    start_at = time.time() + 1.5
    workers = [
        multiprocessing.get_context("spawn").Process(
            target=_python_client,
            args=(url, method, headers, bodies, n, i, processes, start_at, seconds, queue),
        )
        for i, n in enumerate(per)
    ]
    for w in workers:
        w.start()
    results = [queue.get() for _ in workers]
    for w in workers:
        w.join()
    return LoadResult(sum(r[0] for r in results), seconds, sum(r[1] for r in results))


def run_async(factory: Callable[[], Any]) -> Any:
    """``asyncio.run`` of a coroutine built by ``factory``: each figure gets a loop of its own."""
    return asyncio.run(factory())
