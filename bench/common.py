"""Shared pieces of the engine benchmarks: a dedicated database and Redis db, the
platform's real processes (Celery, gunicorn, the simulator), bounded waits, and the
figures every script prints.

Output: a human table, one FIGURE line per figure, and as the very last line one
SUMMARY line, both `key=value` separated by spaces, for a report to parse:

    FIGURE dispatch.sent_rate=2410.5 unit=msg/s baseline=8100.2 ratio=0.298 target=>=2000 met=yes
    SUMMARY bench=dispatch mode=batch n=100000 ... targets_met=1/1
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
VAR = ROOT / "var" / "bench"
LOGS = VAR / "logs"
# BENCH_DB_NAME and BENCH_REDIS_DB let two checkouts (git worktrees) run benchmarks at
# the same time without dropping each other's database or flushing each other's Redis.
DB_NAME = os.environ.get("BENCH_DB_NAME", "smsworks_bench")
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
DATABASE_URL = f"postgres://{PG['user']}@{PG['host']}:{PG['port']}/{DB_NAME}"
# the tests use /1, a dev install /0
REDIS_URL = f"redis://127.0.0.1:6379/{os.environ.get('BENCH_REDIS_DB', '3')}"
SENDER_NUMBER = "+447700900100"

# Production mode (DEBUG off): no query log, compressed static files, real error pages.
BASE_ENV = {
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "DJANGO_SETTINGS_MODULE": "bench.settings",
    "SMSWORKS_IGNORE_DOTENV": "1",
    "DEBUG": "false",
    "SECRET_KEY": "bench-only-" + "x" * 40,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "SESSION_COOKIE_SECURE": "false",
    "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
    "SECURE_HSTS_SECONDS": "0",
    "CONN_MAX_AGE": "600",
    "PYTHONUNBUFFERED": "1",
    "PYTHONPATH": str(ROOT),
}

if str(ROOT) not in sys.path:
    sys.path.insert(1, str(ROOT))

T = TypeVar("T")


# --- environment ---------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **BASE_ENV, **extra}


def setup(*, web_url: str) -> None:
    """Fresh bench database (dropped, created, migrated), empty Redis db, static files
    collected (error pages need them when DEBUG is off), Django set up in this process
    with the same environment the child processes get."""
    os.environ.update(BASE_ENV, MESSAGING_WEBHOOK_BASE_URL=web_url, SITE_URL=web_url)
    LOGS.mkdir(parents=True, exist_ok=True)
    _one_run_at_a_time()
    import psycopg
    import redis

    with psycopg.connect(dbname="postgres", autocommit=True, connect_timeout=5, **PG) as pg:
        pg.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        pg.execute(f"CREATE DATABASE {DB_NAME}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    manage("migrate", "--noinput", "-v", "0")
    manage("collectstatic", "--noinput", "-v", "0")
    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise


_lock_file: IO[str] | None = None


def _one_run_at_a_time() -> None:
    """Two runs would drop each other's database: the second one stops here instead."""
    global _lock_file
    _lock_file = open(VAR / "run.lock", "w")  # noqa: SIM115 - held until this process exits
    try:
        fcntl.flock(_lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        sys.exit("another benchmark is running (var/bench/run.lock); try again when it ends")


def manage(*args: str, timeout: float = 300) -> None:
    subprocess.run(  # noqa: S603 - a fixed command line of our own
        [sys.executable, "manage.py", *args], cwd=ROOT, env=child_env(), check=True, timeout=timeout
    )


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP end the run like Ctrl-C does, so that every `finally` (and
    with it every process this run started) is cleaned up."""

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)


# --- processes -----------------------------------------------------------------------
class Processes:
    """The child processes of one run; each in its own session, all stopped on exit."""

    def __init__(self) -> None:
        self.running: list[tuple[str, subprocess.Popen]] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(self, name: str, argv: Sequence[str], env: dict[str, str]) -> subprocess.Popen:
        log = LOGS / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(  # noqa: S603 - argv is built in this module
                list(argv),
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append((name, proc))
        return proc

    def check(self) -> None:
        for name, proc in self.running:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {LOGS}/{name}.log")

    def stop_all(self) -> None:
        for _name, proc in reversed(self.running):
            _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _name, proc in reversed(self.running):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(5)
        self.running.clear()

    # --- the platform's processes ---
    def simulator(self, *flags: str) -> str:
        port = free_port()
        record = VAR / "simulator-messages.jsonl"
        record.unlink(missing_ok=True)  # it appends: start each run with an empty record
        argv = [sys.executable, "-m", "simulator", "--port", str(port)]
        argv += ["--record", str(record), *flags]
        self.start("simulator", argv, child_env())
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/_sim/health", self, timeout=30)
        return url

    def gunicorn(self, port: int, *, workers: int, threads: int) -> str:
        # The production settings (gunicorn.conf.py), with this bench's layout.
        argv = [str(BIN / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py"), "smsworks.wsgi"]
        argv += ["-b", f"127.0.0.1:{port}", "-w", str(workers), "--threads", str(threads)]
        argv += ["--log-level", "warning", "--backlog", "2048"]
        if threads == 1:
            argv += ["-k", "sync"]
        self.start("gunicorn", argv, child_env())
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/_bench_ready/", self, timeout=60)
        return url

    def worker(self, name: str, *, queues: str, concurrency: int, web_url: str) -> None:
        argv = [str(BIN / "celery"), "-A", "smsworks", "worker", "-Q", queues, "-n", f"{name}@%h"]
        argv += ["--concurrency", str(concurrency), "-l", "info"]
        argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        self.start(name, argv, child_env(MESSAGING_WEBHOOK_BASE_URL=web_url))
        wait_log(name, "ready.", self, timeout=60)

    def beat(self, *, web_url: str) -> None:
        argv = [str(BIN / "celery"), "-A", "smsworks", "beat", "-l", "info"]
        self.start("beat", argv, child_env(MESSAGING_WEBHOOK_BASE_URL=web_url))
        wait_log("beat", "beat: Starting", self, timeout=60)


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)


# --- waiting -------------------------------------------------------------------------
def wait_until(
    predicate: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.2,
    procs: Processes | None = None,
) -> T:
    """Poll until `predicate` is truthy; bounded in time and in count."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 2):
        if procs is not None:
            procs.check()
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def wait_http(url: str, procs: Processes, *, timeout: float) -> None:
    def answers() -> bool:
        try:
            return httpx.get(url, timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    wait_until(answers, timeout=timeout, what=url, procs=procs)


def wait_log(name: str, text: str, procs: Processes, *, timeout: float) -> None:
    path = LOGS / f"{name}.log"
    wait_until(
        lambda: path.exists() and text in path.read_text(errors="replace"),
        timeout=timeout,
        what=f"{name} to log {text!r}",
        procs=procs,
    )


# --- the data ------------------------------------------------------------------------
def sim_token(sim_url: str) -> str:
    return httpx.get(f"{sim_url}/_sim/token", timeout=5).raise_for_status().json()["jwt"]


def bench_sender(*, base_url: str, token: str, rate: int, credentials: dict | None = None):
    """A provider account with the real SMS Works backend (on the simulator) and its sender."""
    from messaging.models import ProviderAccount, Sender

    account = ProviderAccount.objects.create(
        name="bench",
        backend="smsworks",
        base_url=base_url,
        credentials={"jwt": token, **(credentials or {})},
        timeout_seconds=10,
    )
    return Sender.objects.create(
        account=account, value=SENDER_NUMBER, messages_per_second=rate, is_default=True
    )


def insert_messages(*, sender, n: int, status: str = "queued", priority: str = "bulk") -> None:
    """N outbound rows in one set-based INSERT ... SELECT, as a campaign launch writes
    them. status='sent' rows get a provider id (the receipts benchmark matches on it).
    Columns not named here take their model default, so new fields need no change."""
    from django.db import connection

    from messaging.models import Message

    sent = status == "sent"
    expressions = {
        "uuid": "gen_random_uuid()",
        "direction": "'out'",
        "account_id": "%(account)s",
        "sender_id": "%(sender)s",
        "from_number": "%(number)s",
        "to_number": "'+4479' || lpad(g::text, 8, '0')",
        "body": "'Bench ' || g || ': your order has shipped, reply STOP to opt out.'",
        "encoding": "'GSM-7'",
        "segments": "1",
        "status": "%(status)s",
        "priority": "%(priority)s",
        "send_after": "now()",
        "provider_message_id": "gen_random_uuid()::text" if sent else "''",
        "provider_response": "'{}'::jsonb",
        "cost": "0.04",
        "created_at": "now()",
        "queued_at": "now()",
        "sent_at": "now()" if sent else "NULL",
    }
    params: dict[str, Any] = {
        "account": sender.account_id,
        "sender": sender.pk,
        "number": sender.value,
        "status": status,
        "priority": priority,
        "n": n,
    }
    columns, values = [], []
    for field in Message._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(field.column)
        if field.column in expressions:
            values.append(expressions[field.column])
        elif field.null and not field.has_default():
            values.append("NULL")
        elif not (field.has_default() and callable(field.default)) and (
            field.get_default() is not None
        ):
            params[field.column] = field.get_db_prep_save(field.get_default(), connection)
            values.append(f"%({field.column})s")
        else:
            raise RuntimeError(f"insert_messages: no value for messaging_message.{field.column}")
    # Column names come from the model, every value is a parameter or a fixed expression.
    columns_sql, values_sql = ", ".join(columns), ", ".join(values)
    sql = f"INSERT INTO messaging_message ({columns_sql}) SELECT {values_sql} "
    sql += "FROM generate_series(1, %(n)s) AS g"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def fetch_one(sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return tuple(cursor.fetchone())


# --- figures -------------------------------------------------------------------------
def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    baseline: float | None = None  # what the ratio compares against
    target: float | None = None
    higher_is_better: bool = True
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return self.value / self.baseline if self.baseline else None

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    @property
    def target_text(self) -> str:
        if self.target is None:
            return "-"
        return (">=" if self.higher_is_better else "<=") + _num(self.target)


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def report(figures: Sequence[Figure], summary: dict[str, Any]) -> None:
    """The table, the FIGURE lines, and the SUMMARY line (always the last one)."""
    rows = [
        (
            f.name,
            f"{_num(f.value)} {f.unit}",
            _num(f.baseline),
            _num(f.ratio),
            f.target_text,
            {True: "yes", False: "NO", None: "-"}[f.met],
            f.note,
        )
        for f in figures
    ]
    header = ("figure", "value", "baseline", "ratio", "target", "met", "note")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print()
    for f in figures:
        met = {True: "yes", False: "no", None: "-"}[f.met]
        print(
            f"FIGURE {f.name}={_num(f.value)} unit={f.unit} baseline={_num(f.baseline)} "
            f"ratio={_num(f.ratio)} target={f.target_text} met={met}"
        )
    judged = [f for f in figures if f.met is not None]
    summary = {**summary, "targets_met": f"{sum(bool(f.met) for f in judged)}/{len(judged)}"}
    print("SUMMARY " + " ".join(f"{k}={v}" for k, v in summary.items()), flush=True)


def main(run: Callable[[], tuple[list[Figure], dict[str, Any]]]) -> None:
    """Run a benchmark (its processes stop inside `run`), then print its report."""
    stop_on_signals()
    load = os.getloadavg()[0]
    if load > 1.0:
        print(f"warning: load average {load:.1f} before the run: others share the CPU")
    try:
        figures, summary = run()
    except KeyboardInterrupt:
        print("interrupted: every process this run started was stopped", file=sys.stderr)
        sys.exit(130)
    summary = {**summary, "cpus": os.cpu_count(), "load_before": f"{load:.1f}"}
    report(figures, summary)
