"""``python -m loadtests.run`` (``make loadtest``): Locust headless for a fixed time, then a verdict.

Writes ``locust_stats.csv`` (and the failures, exceptions and history CSVs) plus ``locust.html`` into
``LOAD_TEST_REPORTS_DIR`` (default ``loadtests/reports/``), then exits non-zero when the aggregated failure
ratio is above ``LOAD_TEST_MAX_FAILURE_RATIO`` (default 0.1 %), in the measured time or in the ramp-up before
it, when nothing was measured, or when a scenario raised. ``LOAD_TEST_DURATION`` is the measured time: the
statistics restart once every user has started (``LOAD_TEST_RESET_STATS``, default true).
Locust runs in a child process: its gevent monkey-patching never reaches this one (or pytest).
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from loadtests.scenarios.settings import RAMP_FILE_ENV, LoadTestSettings, parse_seconds

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = Path("loadtests/locustfile.py")
CSV_PREFIX = "locust"


@dataclass(frozen=True, slots=True)
class Totals:
    """The ``Aggregated`` row of Locust's stats CSV."""

    requests: int
    failures: int
    requests_per_s: float
    median_ms: float
    p99_ms: float

    @property
    def failure_ratio(self) -> float:
        """Failed requests over all requests (1.0 when nothing ran, so an empty run never passes)."""
        return self.failures / self.requests if self.requests else 1.0


@dataclass(frozen=True, slots=True)
class RampUp:
    """What happened while users were still being started (before Locust reset its statistics)."""

    requests: int
    failures: int


def read_ramp_up(path: Path) -> RampUp | None:
    """The ramp-up totals the Locust process wrote, if it wrote any."""
    if not path.is_file():
        return None
    figures = json.loads(path.read_text(encoding="utf-8"))
    return RampUp(requests=int(figures["requests"]), failures=int(figures["failures"]))


def _number(row: dict[str, str], column: str) -> float:
    value = row.get(column, "")
    # Locust writes "N/A" for percentiles of an empty row.
    return float(value) if value not in ("", "N/A") else 0.0


def read_totals(stats_csv: Path) -> Totals:
    """The aggregated totals of a run."""
    with stats_csv.open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            if row.get("Name") == "Aggregated":
                return Totals(
                    requests=int(_number(row, "Request Count")),
                    failures=int(_number(row, "Failure Count")),
                    requests_per_s=_number(row, "Requests/s"),
                    median_ms=_number(row, "Median Response Time"),
                    p99_ms=_number(row, "99%"),
                )
    raise ValueError(f"{stats_csv} has no Aggregated row")


def read_rows(path: Path) -> list[dict[str, str]]:
    """All rows of a Locust CSV (none when the file is missing)."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def verdict(
    totals: Totals, max_failure_ratio: float, exceptions: int = 0, ramp_up: RampUp | None = None
) -> tuple[bool, str]:
    """Pass or fail, and the one line that says why. Failures during the ramp-up count as well."""
    summary = (
        f"{totals.requests} requests, {totals.requests_per_s:.0f} req/s, median {totals.median_ms:.0f} ms, "
        f"p99 {totals.p99_ms:.0f} ms, {totals.failures} failed ({totals.failure_ratio:.3%})"
    )
    if ramp_up is not None:
        summary += f"; ramp-up before that: {ramp_up.requests} requests, {ramp_up.failures} failed"
    if totals.requests == 0:
        return False, "FAIL: no request was made"
    if exceptions:
        return False, f"FAIL: the scenarios raised {exceptions} kind(s) of exception; {summary}"
    if totals.failure_ratio > max_failure_ratio:
        return False, f"FAIL: failure ratio above {max_failure_ratio:.3%}; {summary}"
    if ramp_up is not None and ramp_up.failures > max_failure_ratio * max(ramp_up.requests, 1):
        return False, f"FAIL: failure ratio above {max_failure_ratio:.3%} during the ramp-up; {summary}"
    return True, f"PASS: {summary}"


def ramp_up_seconds(settings: LoadTestSettings) -> int:
    """How long starting every user takes (Locust's spawn rate is for all processes together), plus 1 s."""
    return math.ceil(settings.users / settings.spawn_rate) + 1


def locust_command(settings: LoadTestSettings, reports: Path) -> list[str]:
    """The headless Locust invocation for ``settings``, writing into ``reports``.

    With ``reset_stats`` the statistics restart once every user has started, and the run lasts the ramp-up
    plus ``duration``, so that ``duration`` is what is measured.
    """
    run_time = parse_seconds(settings.duration)
    if settings.reset_stats:
        run_time += ramp_up_seconds(settings)
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        settings.host,
        "--users",
        str(settings.users),
        "--spawn-rate",
        f"{settings.spawn_rate:g}",
        "--run-time",
        f"{run_time}s",
        # Users finish the request they are in, so the end of the run does not show up as errors.
        "--stop-timeout",
        "5",
        "--csv",
        str(reports / CSV_PREFIX),
        "--html",
        str(reports / f"{CSV_PREFIX}.html"),
        "--only-summary",
        # The verdict is ours (a ratio, not "any failure"); a non-zero exit then means Locust itself failed.
        "--exit-code-on-error",
        "0",
    ]
    if settings.processes != 1:
        command += ["--processes", str(settings.processes)]
    if settings.reset_stats:
        command.append("--reset-stats")
    return command


def run_locust(command: list[str], env: dict[str, str]) -> int:
    """Locust in a child process, from the repository root (so ``loadtests`` imports as a package)."""
    return subprocess.run(command, cwd=REPO_ROOT, env=env, check=False).returncode  # noqa: S603


def main(
    settings: LoadTestSettings | None = None,
    runner: Callable[[list[str], dict[str, str]], int] = run_locust,
) -> int:
    """Run, report, judge: 0 when the run passed."""
    settings = settings or LoadTestSettings.from_env()
    reports = (
        REPO_ROOT / settings.reports_dir if not settings.reports_dir.is_absolute() else settings.reports_dir
    )
    reports.mkdir(parents=True, exist_ok=True)
    for stale in reports.glob(f"{CSV_PREFIX}_*.csv"):
        stale.unlink()  # never judge a previous run's numbers
    ramp_file = reports / f"{CSV_PREFIX}_rampup.json"
    ramp_file.unlink(missing_ok=True)
    stats_csv = reports / f"{CSV_PREFIX}_stats.csv"
    command = locust_command(settings, reports)
    print("+", " ".join(command), flush=True)
    returncode = runner(command, {**os.environ, RAMP_FILE_ENV: str(ramp_file)})
    if returncode != 0 or not stats_csv.is_file():
        report = "a" if stats_csv.is_file() else "no"
        print(f"FAIL: locust exited with {returncode} and wrote {report} report")
        return returncode or 1

    failures = read_rows(reports / f"{CSV_PREFIX}_failures.csv")
    for row in sorted(failures, key=lambda r: -int(r.get("Occurrences") or 0))[:10]:
        print(f"  {row.get('Occurrences')} x {row.get('Method')} {row.get('Name')}: {row.get('Error')}")
    exceptions = read_rows(reports / f"{CSV_PREFIX}_exceptions.csv")
    for exception in exceptions[:5]:
        print(f"  exception x {exception.get('Count')}: {exception.get('Message')}")
    ramp_up = read_ramp_up(ramp_file) if settings.reset_stats else None
    passed, line = verdict(read_totals(stats_csv), settings.max_failure_ratio, len(exceptions), ramp_up)
    print(line)
    print(f"reports: {reports}/{CSV_PREFIX}_stats.csv, {reports}/{CSV_PREFIX}.html")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
