"""Contact import throughput: a generated CSV (10% bad rows) imported through the real
task by a real Celery worker process, against a database of its own.

    .venv/bin/python bench/import.py [--rows 1000000] [--bad 0.1] [--lists 1] [--consent TEXT]

Creates and migrates the PostgreSQL database smsworks_bench_import (dropped at the
end unless --keep-db), writes the CSV into a temporary folder, uploads it the way the
upload page does (inspection timed apart: that happens in the web request), starts the
import as the mapping page does, and lets a worker with its own Redis database run it.

Figures: rows/s over the task's own run (started_at -> finished_at, database clock),
the worker's peak memory (VmHWM of the pool process that ran the task, from /proc),
the outcome counts, which must match what the generator wrote, and the CPU time per
row of the worker and of PostgreSQL (on a machine shared with other work, the rate
each side alone would allow). By default everyone joins one list and new contacts get
a consent event, as an import from the pages does. Target: >= 20,000 rows/s with
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
DB_NAME = "smsworks_bench_import"
FIRST_NAMES = ["Ada", "Bob", "Chloé", "Dev", "Eve", "Finn", "Grace", "Hiro", "Ines", "Jon"]
LAST_NAMES = ["Lovelace", "Smith", "Müller", "O'Brien", "Patel", "Nguyen", "García", "Kowalski"]
PLANS = ["Gold", "Silver", "Free"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="data rows in the CSV")
    parser.add_argument("--bad", type=float, default=0.10, help="fraction of bad rows")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="server URL")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="broker")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the import")
    parser.add_argument("--lists", type=int, default=1, help="lists to add everyone to")
    parser.add_argument(
        "--consent", default="Bench sign-up form", help="consent source ('' records none)"
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


def peak_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_backends() -> list[int]:
    """PostgreSQL server processes serving the bench database, except our own."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [DB_NAME],
        )
        return [pid for (pid,) in cursor.fetchall()]


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

        started = time.perf_counter()
        with open(csv_path, "rb") as f:
            job = imports.import_create(upload=File(f, name="contacts.csv"), user=None)
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
        # CPU seconds by process, first and last seen: the share of the machine the
        # import used, whatever else runs on it.
        cpu_first = {pid: cpu_seconds(pid) for pid in [*pool, *database_backends()]}
        cpu_last = dict(cpu_first)
        loads = []
        while time.monotonic() < deadline:
            job.refresh_from_db()
            for pid in children(worker.pid):
                peak[pid] = max(peak.get(pid, 0), peak_kib(pid))
            for pid in [*children(worker.pid), *database_backends()]:
                cpu_first.setdefault(pid, 0.0)
                cpu_last[pid] = max(cpu_last.get(pid, 0.0), cpu_seconds(pid))
            loads.append(os.getloadavg()[0])
            if job.status in ("done", "failed"):
                break
            time.sleep(0.5)
        else:
            sys.exit(
                f"the import did not finish in {args.timeout:.0f}s: {job.rows_done:,} rows done"
            )
        if job.status != "done":
            sys.exit(f"the import failed: {job.error}")

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
        worker_cpu = sum(cpu_last[p] - cpu_first[p] for p in cpu_last if p in peak)
        database_cpu = sum(cpu_last[p] - cpu_first[p] for p in cpu_last if p not in peak)
        per_row = {
            "worker": worker_cpu / job.rows_done * 1e6,
            "PostgreSQL": database_cpu / job.rows_done * 1e6,
        }
        print(
            f"CPU per row: worker {per_row['worker']:.0f} us, PostgreSQL {per_row['PostgreSQL']:.0f} us "
            f"(load average during the run {sum(loads) / len(loads):.1f} on {os.cpu_count()} cores); "
            f"with a core each, the slower side allows {1e6 / max(per_row.values()):,.0f} rows/s"
        )
        print(
            f"worker pool process peak memory {peak[ran] / 1024:,.0f} MiB (before the task: {baseline.get(ran, 0) / 1024:,.0f} MiB)"
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
