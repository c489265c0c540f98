"""Run every benchmark script under bench/ and write bench/REPORT.md.

    .venv/bin/python bench/report.py [--quick] [--only dispatch receipts ...]
    make bench                       # the same, every script at its default size

Each script prints `FIGURE name=value unit=... baseline=... ratio=... target=... met=...`
lines and a last `SUMMARY key=value ...` line (see bench/README.md, bench/common.py).
This runs them one after another (each one holds var/bench/run.lock while it runs),
keeps their whole output in var/bench/report/<script>.out, parses those lines, and
writes one table: for each figure its value, baseline, ratio, target and pass or
short, with the machine it ran on (CPU, cores, RAM, PostgreSQL, Redis, Python) and
the date. `--quick` passes a smaller size to the scripts that take one (QUICK below).
`--from-outputs DIR` renders the report from saved outputs without running anything.

Stdlib only (plus psycopg and redis, if installed, for their server versions), so
that it can be imported and tested without a benchmark run.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
OUTPUTS = ROOT / "var" / "bench" / "report"
REPORT = BENCH / "REPORT.md"
# Modules under bench/ that are not benchmarks.
NOT_SCRIPTS = frozenset({"common", "settings", "report", "__init__"})
# Smaller sizes for --quick (a script not listed here gets `--n 10000` if it takes --n).
QUICK: dict[str, list[str]] = {
    "api": ["--sends", "2000", "--bulk", "10000", "--count", "20"],
    "dispatch": ["--n", "10000", "--baseline-n", "5000"],
    "receipts": ["--n", "5000", "--trivial-n", "3000"],
    "priority": ["--n", "20000", "--count", "20", "--spacing", "0.3"],
    "campaign": ["--n", "10000"],
    "launch": ["--n", "100000"],
    "pages": ["--n", "100000", "--requests", "20"],
    "import": ["--rows", "100000"],
}
QUICK_N = "10000"
MISSING = {"", "-", "none", "None", "n/a"}


# --- parsing ------------------------------------------------------------------------------------
@dataclass
class Figure:
    script: str
    name: str
    value: float | None
    raw_value: str
    fields: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        value = self.fields.get(key)
        return None if value is None or value in MISSING else value

    @property
    def unit(self) -> str:
        return self.get("unit") or ""

    @property
    def baseline(self) -> float | None:
        return _number(self.get("baseline"))

    @property
    def ratio(self) -> float | None:
        ratio = _number(self.get("ratio"))
        if ratio is None and self.value is not None and self.baseline:
            ratio = self.value / self.baseline
        return ratio

    @property
    def target(self) -> str | None:
        return self.get("target")

    @property
    def result(self) -> str:
        """pass, short, or '-' (no target, or one this report cannot judge)."""
        met = (self.get("met") or "").lower()
        if met in ("yes", "true", "pass"):
            return "pass"
        if met in ("no", "false", "short"):
            return "short"
        judged = judge(self.value, self.target, self.unit)
        return {True: "pass", False: "short", None: "-"}[judged]


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text.replace(",", "").rstrip("x%"))
    except ValueError:
        return None


LOWER_IS_BETTER_UNITS = ("s", "ms", "us", "MiB", "MB", "GB", "KiB")


def judge(value: float | None, target: str | None, unit: str = "") -> bool | None:
    """value against a target like '>=2000', '<=50', '<2' or a bare number (read as a
    minimum, or as a maximum for times and sizes). None when it cannot be judged
    (no value, no target, or a target about something else, like 'ratio<=1.5')."""
    if value is None or not target:
        return None
    match = re.fullmatch(r"(>=|<=|>|<)?\s*([-+]?\d[\d,]*(?:\.\d+)?)", target.strip())
    if not match:
        return None
    op, number = match.group(1), float(match.group(2).replace(",", ""))
    if op is None:
        op = "<=" if unit in LOWER_IS_BETTER_UNITS else ">="
    return {
        ">=": value >= number,
        "<=": value <= number,
        ">": value > number,
        "<": value < number,
    }[op]


def _pairs(words: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if sep and key:
            out[key] = value
    return out


@dataclass
class Run:
    script: str
    argv: list[str] = field(default_factory=list)
    exit_code: int | None = None
    seconds: float | None = None
    figures: list[Figure] = field(default_factory=list)
    summary: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and bool(self.figures)


def parse_output(script: str, text: str) -> Run:
    """FIGURE and SUMMARY lines of one script's output. A figure printed twice (some
    scripts repeat their headline figure last, with extra keys) is merged: the
    later line fills in keys the first one left out or left as '-'."""
    run = Run(script=script)
    by_name: dict[str, Figure] = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("FIGURE "):
            words = line.split()[1:]
            if not words or "=" not in words[0]:
                continue
            name, _, raw = words[0].partition("=")
            fields = _pairs(words[1:])
            existing = by_name.get(name)
            if existing is None:
                figure = Figure(script, name, _number(raw), raw, fields)
                by_name[name] = figure
                run.figures.append(figure)
            else:
                for key, value in fields.items():
                    if existing.get(key) is None and value not in MISSING:
                        existing.fields[key] = value
                if existing.value is None:
                    existing.value, existing.raw_value = _number(raw), raw
        elif line.startswith("SUMMARY "):
            run.summary = _pairs(line.split()[1:])
        elif line.lower().startswith("warning"):
            run.warnings.append(line)
    run.tail = text.splitlines()[-15:]
    return run


# --- the machine --------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    info = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count() or "?"),
        "ram": _ram(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": _postgres_version(),
        "redis": _redis_version(),
        "load average at start": "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg()),
        "commit": _git_commit(),
    }
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return "?"


def _postgres_version() -> str:
    try:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3
        ) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0])
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"


def _redis_version() -> str:
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=3)
        return str(client.info("server")["redis_version"])
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"


def _git_commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git on PATH
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return head + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


# --- rendering ----------------------------------------------------------------------------------
def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render(runs: list[Run], info: dict[str, str], *, quick: bool = False) -> str:
    figures = [f for run in runs for f in run.figures]
    judged = [f for f in figures if f.result != "-"]
    passed = sum(1 for f in judged if f.result == "pass")
    lines = [
        "# Benchmark report",
        "",
        f"Written by `make bench` (`bench/report.py`) on {info.get('date', '?')}"
        + (" in **quick** mode (smaller sizes; see `QUICK` in bench/report.py)." if quick else ".")
        + " What each figure measures and its baseline: [README.md](README.md).",
        "",
        f"**{passed} of {len(judged)} targets met**"
        + (
            f"; {sum(not r.ok for r in runs)} script(s) failed"
            if any(not r.ok for r in runs)
            else ""
        )
        + ".",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += [f"| {_cell(key)} | {_cell(value)} |" for key, value in info.items()]
    lines += [
        "",
        "## Figures",
        "",
        "| script | figure | value | unit | baseline | ratio | target | result |",
        "|---|---|---:|---|---:|---:|---|---|",
    ]
    for f in figures:
        value = _fmt(f.value) if f.value is not None else _cell(f.raw_value)
        result = {"pass": "pass", "short": "**short**", "-": "-"}[f.result]
        lines.append(
            f"| {_cell(f.script)} | {_cell(f.name)} | {value} | {_cell(f.unit)} | "
            f"{_fmt(f.baseline)} | {_fmt(f.ratio)} | {_cell(f.target or '-')} | {result} |"
        )
    lines += [
        "",
        "## Runs",
        "",
        "| script | command | exit | seconds | load before | summary |",
        "|---|---|---|---:|---:|---|",
    ]
    for run in runs:
        summary = " ".join(
            f"{k}={v}" for k, v in run.summary.items() if k not in ("cpus", "load_before")
        )
        command = " ".join(["bench/" + run.script + ".py", *run.argv])
        exit_text = "ok" if run.ok else f"**failed** ({run.exit_code})"
        seconds = _fmt(run.seconds) if run.seconds is not None else "-"
        lines.append(
            f"| {_cell(run.script)} | `{_cell(command)}` | {exit_text} | {seconds} | "
            f"{_cell(run.summary.get('load_before', '-'))} | {_cell(summary) or '-'} |"
        )
    failed = [run for run in runs if not run.ok]
    if failed:
        lines += ["", "## Failures", ""]
        for run in failed:
            lines += [f"### {run.script}", "", "```", *run.tail, "```", ""]
    warned = [(run.script, w) for run in runs for w in run.warnings]
    if warned:
        lines += ["", "## Warnings", ""]
        lines += [f"- {script}: {_cell(w)}" for script, w in warned]
    lines += [
        "",
        "Other work on the machine lowers the rates: `load before` is the 1-minute load "
        "average when each script started. Full outputs: `var/bench/report/<script>.out`.",
        "",
    ]
    return "\n".join(lines)


# --- running ------------------------------------------------------------------------------------
def scripts(only: list[str] | None = None) -> list[str]:
    found = sorted(
        p.stem
        for p in BENCH.glob("*.py")
        if p.stem not in NOT_SCRIPTS and not p.stem.startswith("_")
    )
    if only:
        unknown = sorted(set(only) - set(found))
        if unknown:
            raise SystemExit(f"no such benchmark: {', '.join(unknown)} (have {', '.join(found)})")
        found = [s for s in found if s in only]
    return found


def quick_args(script: str) -> list[str]:
    if script in QUICK:
        return list(QUICK[script])
    try:
        helped = subprocess.run(  # noqa: S603 - our own script
            [sys.executable, str(BENCH / f"{script}.py"), "--help"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return ["--n", QUICK_N] if re.search(r"(^|\s)--n\b", helped) else []


# Before each script, wait (at most SETTLE_MAX_SECONDS) until the machine's CPUs are
# at most SETTLE_BUSY busy over a 2 s sample: the script before may leave PostgreSQL
# checkpointing or vacuuming what it wrote, which would lower the next one's rates.
SETTLE_BUSY = 0.15
SETTLE_MAX_SECONDS = 120.0


def _cpu_times() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields), idle


def settle() -> None:
    """Wait for a quiet machine (Linux; elsewhere, return at once)."""
    deadline = time.monotonic() + SETTLE_MAX_SECONDS
    busy = 1.0
    while time.monotonic() < deadline:
        try:
            total0, idle0 = _cpu_times()
            time.sleep(2.0)
            total1, idle1 = _cpu_times()
        except OSError:
            return
        busy = 1 - (idle1 - idle0) / max(1, total1 - total0)
        if busy <= SETTLE_BUSY:
            return
    print(f"   the machine stayed {busy:.0%} busy for {SETTLE_MAX_SECONDS:.0f} s; going on")


def run_script(script: str, argv: list[str], *, timeout: float) -> Run:
    OUTPUTS.mkdir(parents=True, exist_ok=True)
    out_path = OUTPUTS / f"{script}.out"
    started = time.monotonic()
    print(f"== bench/{script}.py {' '.join(argv)}", flush=True)
    with out_path.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own script
            [sys.executable, "-u", str(BENCH / f"{script}.py"), *argv],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        deadline = started + timeout
        try:
            for line in proc.stdout:
                out.write(line)
                out.flush()
                if line.startswith(("FIGURE ", "SUMMARY ")):
                    print("   " + line.rstrip(), flush=True)
                if time.monotonic() > deadline:
                    raise TimeoutError
            code = proc.wait()
        except (TimeoutError, KeyboardInterrupt):
            proc.terminate()  # the script stops the processes it started on SIGTERM
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
            code = proc.returncode if proc.returncode is not None else -1
            if time.monotonic() <= deadline:
                raise
    run = parse_output(script, out_path.read_text(encoding="utf-8", errors="replace"))
    run.argv, run.exit_code, run.seconds = argv, code, time.monotonic() - started
    print(f"   exit {code} after {run.seconds:.0f}s; output in {out_path}", flush=True)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (see QUICK)")
    parser.add_argument("--only", nargs="+", metavar="SCRIPT", help="run only these scripts")
    parser.add_argument("--output", type=Path, default=REPORT, help="where to write the report")
    parser.add_argument(
        "--timeout", type=float, default=7200, help="seconds for each script (default 2 h)"
    )
    parser.add_argument(
        "--from-outputs",
        type=Path,
        metavar="DIR",
        help="render from saved <script>.out files instead of running",
    )
    args = parser.parse_args(argv)
    info = machine()
    runs: list[Run] = []
    if args.from_outputs:
        for path in sorted(args.from_outputs.glob("*.out")):
            run = parse_output(path.stem, path.read_text(encoding="utf-8", errors="replace"))
            run.exit_code = 0 if run.figures else None
            runs.append(run)
    else:
        for script in scripts(args.only):
            extra = quick_args(script) if args.quick else []
            settle()
            runs.append(run_script(script, extra, timeout=args.timeout))
    args.output.write_text(render(runs, info, quick=args.quick), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0 if runs and all(run.ok for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
