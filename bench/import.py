"""Contact import throughput: a generated CSV (10% bad rows) imported through the real
task by a real Celery worker process, against a database of its own.

    .venv/bin/python bench/import.py [--rows 1000000] [--bad 0.1] [--lists 1] [--consent TEXT] [--user]

Creates and migrates the PostgreSQL database <BENCH_DB_NAME>_import (by default
smsworks_bench_import; dropped at the end unless --keep-db), writes the CSV into a
temporary folder, uploads it the way the upload page does (inspection timed apart:
that happens in the web request), starts the import as the mapping page does, and
lets a worker with its own Redis database (its keys prefixed with the database name)
run it.

Figures: rows/s over the task's own run (started_at -> finished_at, database clock),
the worker's peak memory (VmHWM of the pool process that ran the task, from /proc)
and its resident memory by tenth of the file read, the outcome counts, which must
match what the generator wrote, and the CPU time per row by part, from /proc: the
worker's reading thread and its other threads, and the PostgreSQL backends of the
deduper, of the writers and of anything else (the task's own connection), and the
server's WAL writer, checkpointer and background writer. On a machine shared with
other work, judge by these, not by the rate. By default everyone joins one list and
new contacts get a consent event, as an import from the pages does (--user: made by a
user, as there, so the consent events name them). Target: >= 20,000 rows/s with
memory that does not grow with the file.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# BENCH_DB_NAME (another checkout's benchmarks) moves this database too: <name>_import.
DB_NAME = f"{os.environ.get('BENCH_DB_NAME', 'smsworks_bench')}_import"
FIRST_NAMES = ["Ada", "Bob", "Chloé", "Dev", "Eve", "Finn", "Grace", "Hiro", "Ines", "Jon"]
LAST_NAMES = ["Lovelace", "Smith", "Müller", "O'Brien", "Patel", "Nguyen", "García", "Kowalski"]
PLANS = ["Gold", "Silver", "Free"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="data rows in the CSV")
    parser.add_argument("--bad", type=float, default=0.10, help="fraction of bad rows")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="server URL")
    parser.add_argument(
        "--redis-url",
        default=f"redis://127.0.0.1:6379/{os.environ.get('BENCH_REDIS_DB', '13')}",
        help="broker (its keys are prefixed with the database name)",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the import")
    parser.add_argument("--lists", type=int, default=1, help="lists to add everyone to")
    parser.add_argument(
        "--consent", default="Bench sign-up form", help="consent source ('' records none)"
    )
    parser.add_argument(
        "--user",
        action="store_true",
        help="import as a user, as the pages do (consent events name them: a foreign key more)",
    )
    parser.add_argument("--keep-db", action="store_true", help="leave the database behind")
    return parser.parse_args()


def number(i: int) -> str:
    # Distinct for i < 10**7, in a pseudo-random order (real files are not sorted).
    return f"0740{(i * 7_919_423 + 12_345) % 10**7:07d}"


def written(n: int) -> str:
    """One number in one of the ways people write it."""
    digits = number(n)
    form = n % 10
    if form < 6:
        return f"{digits[:5]} {digits[5:]}"
    if form < 8:
        return f"+44 {digits[1:5]} {digits[5:]}"
    if form < 9:
        return f"0044 {digits[1:]}"
    return f"+44 (0){digits[1:5]} {digits[5:]}"


def generate(path: Path, rows: int, bad: float, seed: int = 7) -> dict[str, int]:
    """The CSV, and the counts a correct import of it must report."""
    rng = random.Random(seed)
    expected = {"created": 0, "invalid": 0, "duplicate": 0}
    fresh = 0  # numbers handed out so far
    accepted = []  # the numbers whose row is good (a later row with one is a duplicate)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("Mobile,First name,Surname,Email,Plan\n")
        for _ in range(rows):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            email, plan = f"{first.lower()}.{fresh}@example.com", rng.choice(PLANS)
            roll = rng.random()
            kind, n = "invalid", None
            if roll >= bad:
                kind, n = "created", fresh
            else:
                pick = int(roll / bad * 6)
                if pick == 0:
                    phone = f"020 7946 {rng.randrange(10_000):04d}"  # a landline
                elif pick == 1:
                    phone = rng.choice(["12345", "not known", "07400 12"])
                elif pick == 2:
                    phone = ""
                elif pick == 3:
                    n, email = fresh, "not-an-email"
                elif pick == 4:
                    n, first = fresh, '=HYPERLINK("http://x")'
                elif accepted:
                    kind, phone = "duplicate", written(rng.choice(accepted))
                else:
                    phone = ""
            if n is not None:
                phone = written(n)
                fresh += 1
                if kind == "created":
                    accepted.append(n)
            expected[kind] += 1
            f.write(f'{phone},{first},"{last}",{email},{plan}\n')
    return expected


def peak_kib(pid: int, field: str = "VmHWM") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(proc: str) -> float:
    """User and system CPU seconds of /proc/<pid> or /proc/<pid>/task/<tid>."""
    try:
        fields = Path(proc, "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_backends() -> list[tuple[int, str]]:
    """PostgreSQL server processes serving the bench database, except our own, each
    with the part of the import it does (as far as its last statement tells)."""
    from django.db import connection

    with connection.cursor() as cursor:
        # The server's own processes (WAL writer, checkpointer, background writer)
        # serve every database, but during an import mostly the import.
        cursor.execute(
            "SELECT pid, backend_type, coalesce(query, '') FROM pg_stat_activity "
            "WHERE (datname = %s AND pid <> pg_backend_pid()) OR (datname IS NULL AND "
            "backend_type IN ('walwriter', 'checkpointer', 'background writer'))",
            [DB_NAME],
        )
        found = []
        for pid, kind, query in cursor.fetchall():
            if kind in ("walwriter", "checkpointer", "background writer"):
                part = "PostgreSQL: WAL and checkpoints"
            elif kind != "client backend":
                part = f"PostgreSQL: {kind}"
            elif "contacts_import_seen" in query:
                part = "PostgreSQL: deduper"
            elif "contacts_import_rows" in query:
                part = "PostgreSQL: writers"
            else:
                part = "PostgreSQL: other"
            found.append((pid, part))
        return found


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine used so far (/proc/stat)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def threads(pid: int) -> list[tuple[str, str]]:
    """The /proc task folders of a worker process, each with its part: the reading
    thread (the process's first) or one of the others (deduper, writers, Celery's)."""
    return [
        (str(task), "worker: reading thread" if task.name == str(pid) else "worker: other threads")
        for task in Path(f"/proc/{pid}/task").glob("[0-9]*")
    ]


class CpuByPart:
    """CPU seconds of each process or thread, first and last seen, summed by part:
    the share of the machine each part of the import used, whatever else runs on it."""

    SPECIFIC = ("deduper", "writers")  # a backend once seen doing these keeps the label

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.part: dict[str, str] = {}

    def sample(self, worker_pids: list[int], started: bool) -> None:
        seen = [(task, part) for pid in worker_pids for task, part in threads(pid)]
        seen += [(f"/proc/{pid}", part) for pid, part in database_backends()]
        for path, part in seen:
            seconds = cpu_seconds(path)
            # A process or thread born after the start used all its CPU on the import.
            self.first.setdefault(path, 0.0 if started else seconds)
            self.last[path] = max(self.last.get(path, 0.0), seconds)
            if not self.part.get(path, "").endswith(self.SPECIFIC):
                self.part[path] = part

    def by_part(self) -> dict[str, tuple[float, int]]:
        """Part -> (CPU seconds, how many processes or threads used any)."""
        totals: dict[str, tuple[float, int]] = {}
        for path, part in self.part.items():
            used = self.last[path] - self.first[path]
            seconds, count = totals.get(part, (0.0, 0))
            totals[part] = (seconds + used, count + (used > 0))
        return dict(sorted(totals.items()))


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def psql(server: str, sql: str) -> None:
    subprocess.run(  # noqa: S603 - a fixed command line of our own
        [shutil.which("psql") or "psql", f"{server}/postgres", "-qtAc", sql],
        check=True,
        capture_output=True,
    )


def one_benchmark_at_a_time() -> object:
    """Benchmarks share the machine's two cores: wait for any other one (bench/common.py
    takes the same lock) so that neither measures the other."""
    lock = ROOT / "var" / "bench" / "run.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    held = open(lock, "w")  # noqa: SIM115 - held until this process exits
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print("waiting for another benchmark to finish (var/bench/run.lock)...", flush=True)
        fcntl.flock(held, fcntl.LOCK_EX)
    return held


def main() -> None:
    args = parse_args()
    held = one_benchmark_at_a_time()  # noqa: F841 - released when this process exits

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
    database_url = f"{args.pg}/{DB_NAME}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": args.redis_url,
        # Another checkout's import benchmark on the same Redis database never takes
        # this one's task (nor purges its queue).
        "REDIS_KEY_PREFIX": f"{DB_NAME}:",
        "DEBUG": "true",
        "SMSWORKS_IGNORE_DOTENV": "1",
        "CONN_MAX_AGE": "0",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    psql(args.pg, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    psql(args.pg, f"CREATE DATABASE {DB_NAME}")
    work = Path(tempfile.mkdtemp(prefix="smsworks-bench-import-"))
    worker = None
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smsworks.settings")
        import django

        django.setup()
        from django.core.files import File

        from contacts import imports
        from contacts.models import ContactList, CustomField, ImportJob, Suppression
        from smsworks.celery import app

        csv_path = work / "contacts.csv"
        started = time.perf_counter()
        expected = generate(csv_path, args.rows, args.bad)
        print(
            f"generated {args.rows:,} rows ({csv_path.stat().st_size / 1e6:,.1f} MB) "
            f"in {time.perf_counter() - started:.1f}s"
        )
        CustomField.objects.create(key="plan", label="Plan", kind="choice", choices=PLANS)
        lists = [ContactList.objects.create(name=f"Bench list {i}") for i in range(args.lists)]
        # Every 100th good number opted out before: imported opted out, never reachable.
        Suppression.objects.bulk_create(
            [
                Suppression(phone="+44" + number(i)[1:], source="keyword")
                for i in range(0, args.rows, 100)
            ]
        )

        user = None
        if args.user:
            from django.contrib.auth import get_user_model

            user = get_user_model().objects.create_user("bench-importer")
        started = time.perf_counter()
        with open(csv_path, "rb") as f:
            job = imports.import_create(upload=File(f, name="contacts.csv"), user=user)
        inspect_seconds = time.perf_counter() - started
        print(f"upload stored and inspected in {inspect_seconds:.1f}s: {job.file_info}")

        log = ROOT / "var" / "bench-import-worker.log"
        app.control.purge()
        argv = [str(BIN / "celery"), "-A", "smsworks", "worker", "-Q", "default"]
        argv += ["--concurrency", "1", "-l", "info", "--without-gossip", "--without-mingle"]
        with open(log, "wb") as out:
            worker = subprocess.Popen(  # noqa: S603 - argv is built here
                [*argv, "--without-heartbeat"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        time.sleep(3)
        pool = children(worker.pid)
        baseline = {pid: peak_kib(pid) for pid in pool}
        imports.import_start(
            job=job,
            mapping={"0": "phone", "1": "first_name", "2": "last_name", "3": "email", "4": "custom:plan"},
            has_header=True,
            list_ids=[lst.pk for lst in lists],
            on_existing="update",
            consent_source=args.consent,
        )  # fmt: skip
        deadline = time.monotonic() + args.timeout
        peak = dict(baseline)
        cpu = CpuByPart()
        resident: dict[int, dict[int, int]] = {}
        cpu.sample(pool, started=False)
        machine_started = (machine_busy_seconds(), time.monotonic())
        loads = []
        while time.monotonic() < deadline:
            job.refresh_from_db()
            pool = children(worker.pid)
            for pid in pool:
                peak[pid] = max(peak.get(pid, 0), peak_kib(pid))
                if job.rows_total:  # the memory as the import goes: flat, or growing?
                    tenth = min(10 * job.rows_done // job.rows_total, 10)
                    resident.setdefault(pid, {})[tenth] = peak_kib(pid, "VmRSS")
            cpu.sample(pool, started=True)
            loads.append(os.getloadavg()[0])
            if job.status in ("done", "failed"):
                break
            time.sleep(0.2)  # often: a backend's CPU after its last sample is not counted
        else:
            sys.exit(
                f"the import did not finish in {args.timeout:.0f}s: {job.rows_done:,} rows done"
            )
        if job.status != "done":
            sys.exit(f"the import failed: {job.error}")

        machine = (machine_busy_seconds() - machine_started[0]) / (
            time.monotonic() - machine_started[1]
        )
        seconds = (job.finished_at - job.started_at).total_seconds()
        rate = job.rows_done / seconds
        ran = max(peak, key=lambda pid: peak[pid] - baseline.get(pid, 0))
        print(f"rows read      {job.rows_done:>12,}")
        print(f"created        {job.created:>12,}  (expected {expected['created']:,})")
        print(f"updated        {job.updated:>12,}")
        print(f"unchanged      {job.unchanged:>12,}")
        print(f"invalid        {job.invalid:>12,}  (expected {expected['invalid']:,})")
        print(f"duplicate      {job.duplicate:>12,}  (expected {expected['duplicate']:,})")
        print(f"task run       {seconds:>12.1f} s")
        parts = cpu.by_part()
        print("CPU per row of the file, by part (us; processes or threads that used any):")
        for part, (used, count) in parts.items():
            print(f"  {part:<32} {used / job.rows_done * 1e6:6.1f}  ({count})")
        worker_cpu = sum(used for part, (used, _) in parts.items() if part.startswith("worker"))
        total_cpu = sum(used for used, _ in parts.values())
        per_row = total_cpu / job.rows_done * 1e6
        print(
            f"  {'total':<32} {per_row:6.1f}: worker {worker_cpu / job.rows_done * 1e6:.1f}, "
            f"PostgreSQL {(total_cpu - worker_cpu) / job.rows_done * 1e6:.1f}"
        )
        print(
            f"the machine was busy {machine:.2f} cores of {os.cpu_count()} meanwhile, this import "
            f"{total_cpu / (time.monotonic() - machine_started[1]):.2f} of them"
        )
        print(
            f"load average during the run {sum(loads) / len(loads):.1f} on {os.cpu_count()} cores; "
            f"all {os.cpu_count()} cores busy with this import alone would allow "
            f"{os.cpu_count() * 1e6 / per_row:,.0f} rows/s"
        )
        print(
            f"worker pool process peak memory {peak[ran] / 1024:,.0f} MiB (before the task: {baseline.get(ran, 0) / 1024:,.0f} MiB)"
        )
        print(
            "its resident memory by tenth of the file read (MiB): "
            + ", ".join(f"{t * 10}%: {kib / 1024:.0f}" for t, kib in resident.get(ran, {}).items())
        )
        from contacts.models import Contact

        reachable = Contact.objects.reachable().count()
        opted_out = Contact.objects.filter(opted_out=True).count()
        print(
            f"contacts {Contact.objects.count():,}: reachable {reachable:,}, opted out {opted_out:,}; in each list {[lst.contacts.count() for lst in lists]}"
        )
        ok = (job.created, job.invalid, job.duplicate) == (
            expected["created"],
            expected["invalid"],
            expected["duplicate"],
        )
        print("counts match the generator" if ok else "COUNTS DO NOT MATCH THE GENERATOR")
        print(f"FIGURE import_peak_rss_mib={peak[ran] / 1024:.0f} unit=MiB rows={job.rows_done}")
        print(f"FIGURE import_rows_per_s={rate:.0f} unit=rows/s target=20000")
        for name in (job.file.name, job.error_report.name):
            if name:
                imports.default_storage.delete(name)
        ImportJob.objects.all().delete()
        if not ok:
            sys.exit(1)
    finally:
        if worker is not None and worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(5)
        shutil.rmtree(work, ignore_errors=True)
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            psql(args.pg, f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
