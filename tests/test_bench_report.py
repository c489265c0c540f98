"""bench/report.py: parsing the scripts' FIGURE/SUMMARY lines and rendering REPORT.md,
from canned output (no benchmark runs here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("bench_report", ROOT / "bench" / "report.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_report"] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("bench_report", None)


DISPATCH_OUT = """\
warning: load average 3.2 before the run: others share the CPU
  progress t=1.0s queued=100
figure                value           baseline  ratio  target   met  note
dispatch.batch.sent_rate  3701.2 msg/s  21138.0   0.175  >=2000.0 yes

FIGURE dispatch.batch.sent_rate=3701.2 unit=msg/s baseline=21138.0 ratio=0.175 target=>=2000.0 met=yes
FIGURE dispatch.batch.receipts_rate=296.0 unit=msg/s baseline=- ratio=- target=- met=-
SUMMARY bench=dispatch mode=batch n=10000 msg_per_s=3701 targets_met=1/1 cpus=2 load_before=3.2
"""

LAUNCH_OUT = """\
FIGURE launch.seconds=12.50 unit=s baseline=9.10 ratio=1.374 target=- met=-
FIGURE launch.peak_memory=210.0 unit=MB baseline=- ratio=- target=<=300.0 met=yes
SUMMARY bench=launch n=1000000 seconds=12.50 cpus=2 load_before=1.0
FIGURE launch.seconds=12.50 unit=s baseline=9.10 ratio=1.37 target=ratio<=1.5 met=yes peak_mb=210
"""

IMPORT_OUT = """\
counts match the generator
FIGURE import_peak_rss_mib=95 unit=MiB rows=1000000
FIGURE import_rows_per_s=15000 unit=rows/s target=20000
"""

RECEIPTS_OUT = """\
FIGURE receipts.rate=399.0 unit=receipts/s baseline=929.0 ratio=0.430 target=>=2000.0 met=no
FIGURE receipts.p99=303.0 unit=ms baseline=- ratio=- target=<=50.0 met=no
SUMMARY bench=receipts n=20000 lost=0 cpus=2 load_before=7.1
"""


def test_figures_and_summary_are_parsed(report):
    run = report.parse_output("dispatch", DISPATCH_OUT)
    assert [f.name for f in run.figures] == [
        "dispatch.batch.sent_rate",
        "dispatch.batch.receipts_rate",
    ]
    sent = run.figures[0]
    assert sent.value == pytest.approx(3701.2)
    assert sent.unit == "msg/s"
    assert sent.baseline == pytest.approx(21138.0)
    assert sent.ratio == pytest.approx(0.175)
    assert sent.target == ">=2000.0"
    assert sent.result == "pass"
    receipts = run.figures[1]
    assert receipts.baseline is None and receipts.ratio is None and receipts.target is None
    assert receipts.result == "-"
    assert run.summary["bench"] == "dispatch"
    assert run.summary["load_before"] == "3.2"
    assert run.warnings == ["warning: load average 3.2 before the run: others share the CPU"]


def test_a_repeated_figure_is_merged_and_fills_in_what_was_missing(report):
    run = report.parse_output("launch", LAUNCH_OUT)
    assert [f.name for f in run.figures] == ["launch.seconds", "launch.peak_memory"]
    seconds = run.figures[0]
    assert seconds.target == "ratio<=1.5"  # from the repeated headline line
    assert seconds.fields["peak_mb"] == "210"
    assert seconds.ratio == pytest.approx(1.374)  # the first line's value stays
    assert seconds.result == "pass"  # its met=yes: a target about the ratio is not judged here


def test_lines_without_baseline_or_met_are_judged_from_the_target(report):
    run = report.parse_output("import", IMPORT_OUT)
    peak, rate = run.figures
    assert peak.value == 95 and peak.unit == "MiB" and peak.target is None
    assert peak.result == "-"
    assert rate.target == "20000"
    assert rate.result == "short"  # a bare target on a rate is a minimum
    assert run.summary == {}


@pytest.mark.parametrize(
    ("value", "target", "unit", "expected"),
    [
        (2500, ">=2000", "msg/s", True),
        (1500, ">=2000.0", "msg/s", False),
        (1.49, "<2", "s", True),
        (303, "<=50", "ms", False),
        (25000, "20000", "rows/s", True),
        (250, "300", "MB", True),  # a bare target on a size is a maximum
        (1.3, "ratio<=1.5", "s", None),
        (None, ">=1", "", None),
        (3, None, "", None),
    ],
)
def test_judge(report, value, target, unit, expected):
    assert report.judge(value, target, unit) is expected


def _runs(report):
    runs = [
        report.parse_output("dispatch", DISPATCH_OUT),
        report.parse_output("receipts", RECEIPTS_OUT),
        report.parse_output("launch", LAUNCH_OUT),
    ]
    for run in runs:
        run.exit_code, run.seconds = 0, 42.0
    broken = report.parse_output("pages", "Traceback (most recent call last):\nboom | here\n")
    broken.exit_code, broken.seconds = 1, 3.0
    return [*runs, broken]


MACHINE = {
    "date": "2026-12-04 18:00 UTC",
    "cpu": "Example CPU @ 2.0GHz",
    "cores": "2",
    "ram": "23.4 GiB",
    "python": "3.11.7",
    "postgresql": "15.20",
    "redis": "7.0.15",
}


def test_render_writes_machine_figures_runs_and_failures(report):
    text = report.render(_runs(report), MACHINE, quick=True)
    assert text.startswith("# Benchmark report\n")
    assert "quick" in text
    assert "**3 of 5 targets met**; 1 script(s) failed." in text
    for key, value in MACHINE.items():
        assert f"| {key} | {value} |" in text
    assert (
        "| dispatch | dispatch.batch.sent_rate | 3,701 | msg/s | 21,138 | 0.175 | >=2000.0 | pass |"
        in text
    )
    assert (
        "| receipts | receipts.rate | 399.0 | receipts/s | 929.0 | 0.43 | >=2000.0 | **short** |"
        in (text)
    )
    assert "| launch | launch.seconds | 12.5 | s | 9.1 | 1.37 | ratio<=1.5 | pass |" in text
    assert "| pages | `bench/pages.py` | **failed** (1) |" in text
    assert "### pages" in text and "boom | here" in text  # the tail, in a code block
    assert "- dispatch: warning: load average 3.2" in text
    # Table cells never break the table.
    for line in text.splitlines():
        if line.startswith("| pages |"):
            assert line.count("|") == 7


def test_scripts_are_every_benchmark_under_bench(report):
    found = report.scripts()
    assert {"dispatch", "receipts", "priority"} <= set(found)
    assert not {"common", "settings", "report"} & set(found)
    with pytest.raises(SystemExit):
        report.scripts(["no-such-bench"])


def test_quick_sizes_are_smaller(report):
    assert report.quick_args("dispatch")[:2] == ["--n", "10000"]
    assert report.quick_args("import") == ["--rows", "100000"]


def test_main_renders_saved_outputs_without_running(report, tmp_path, monkeypatch):
    (tmp_path / "dispatch.out").write_text(DISPATCH_OUT)
    (tmp_path / "receipts.out").write_text(RECEIPTS_OUT)
    monkeypatch.setattr(report, "machine", lambda: dict(MACHINE))
    out = tmp_path / "REPORT.md"
    code = report.main(["--from-outputs", str(tmp_path), "--output", str(out)])
    text = out.read_text()
    assert code == 0
    assert "dispatch.batch.sent_rate" in text and "receipts.p99" in text
    assert "**1 of 3 targets met**." in text
