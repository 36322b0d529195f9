"""The load tests' own logic: settings, identities, tokens the service accepts, and the run's verdict.

Importing Locust monkey-patches the process with gevent, which must never happen inside pytest (it would break
asyncio and every later test), so the locustfile is imported in a child interpreter; everything else here is
Locust-free by design and tested in-process.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from loadtests import run
from loadtests.bench import Result, count_access_lines, drift, mean_of
from loadtests.compare import _version
from loadtests.scenarios.settings import (
    DEV_AUDIENCE,
    DEV_ISSUER,
    RAMP_FILE_ENV,
    SCOPE_READ_ANY,
    IdentityPool,
    LoadTestConfigError,
    LoadTestSettings,
    mint_token,
    parse_seconds,
    read_users_file,
)
from loadtests.wrk_mix import MIX, MixResult, parse_statuses

from watchlist_service.config import Settings
from watchlist_service.logging import ACCESS_LOGGER, configure_logging, log_access
from watchlist_service.security import TokenVerifier

REPO_ROOT = Path(__file__).resolve().parents[2]
SECRET = "load-test-secret-" + "y" * 40
STATS_HEADER = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,"
    "Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,"
    "99.99%,100%"
)


def stats_csv(path: Path, requests: int, failures: int) -> Path:
    """A Locust stats CSV with one route and the aggregated row."""
    row = f"{requests},{failures},4,8.1,0.9,128.9,208.8,65.6,0.1,4,6,7,7,9,13,110,120,130,130,130"
    path.write_text(f"{STATS_HEADER}\nGET,/v1/watchlist?page=[n],{row}\n,Aggregated,{row}\n")
    return path


# --- the locustfile -----------------------------------------------------------------------------------------


def test_the_locustfile_only_imports_scenarios() -> None:
    tree = ast.parse((REPO_ROOT / "loadtests" / "locustfile.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            assert node.module is not None
            assert node.module.startswith("loadtests.scenarios.")
        elif isinstance(node, ast.Expr):
            assert isinstance(node.value, ast.Constant)  # the docstring
        else:
            assert isinstance(node, ast.Assign)
            assert [t.id for t in node.targets if isinstance(t, ast.Name)] == ["__all__"]


def test_the_locustfile_imports_without_a_server_and_mixes_as_designed(tmp_path: Path) -> None:
    probe = textwrap.dedent(
        """
        import json
        from collections import Counter
        from locust import FastHttpUser
        import loadtests.locustfile as locustfile

        users = {name: getattr(locustfile, name) for name in locustfile.__all__}
        print(json.dumps({
            name: {
                "fast": issubclass(cls, FastHttpUser),
                "weight": cls.weight,
                "tasks": Counter(task.__name__ for task in cls.tasks),
            }
            for name, cls in users.items()
        }))
        """
    )
    # No server, no seeded users, no secret: importing must still work (identities are taken at user start).
    env = {"PATH": "/usr/bin:/bin", "LOAD_TEST_USERS_FILE": str(tmp_path / "none.jsonl")}
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    users = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(users) == {"MobileUser", "InternalServiceUser"}
    assert all(user["fast"] for user in users.values())
    assert users["MobileUser"]["weight"] > users["InternalServiceUser"]["weight"]

    tasks = users["MobileUser"]["tasks"]
    total = sum(tasks.values())
    reads = tasks["browse_catalog"] + tasks["read_page"] + tasks["conditional_first_page"]
    writes = tasks["add"] + tasks["remove"]
    assert (reads / total, tasks["contains"] / total, writes / total) == pytest.approx((0.70, 0.15, 0.15))


# --- settings -----------------------------------------------------------------------------------------------


def test_settings_defaults_and_overrides(tmp_path: Path) -> None:
    defaults = LoadTestSettings.from_env({}, dotenv_file=tmp_path / ".env")
    assert defaults.host == "http://127.0.0.1:8000"
    assert defaults.users_file == Path(".devdata/loadtest-users.jsonl")
    assert defaults.jwt_secret is None
    assert defaults.duration == "60s"
    assert defaults.reset_stats is True
    assert defaults.max_failure_ratio == 0.001

    settings = LoadTestSettings.from_env(
        {
            "LOAD_TEST_HOST": "http://127.0.0.1:9000/",
            "LOAD_TEST_USERS": "300",
            "LOAD_TEST_SPAWN_RATE": "50",
            "LOAD_TEST_DURATION": "2m",
            "LOAD_TEST_THINK_MIN_S": "0",
            "LOAD_TEST_THINK_MAX_S": "0",
            "LOAD_TEST_SERVICE_TOKEN": "abc",
            "LOAD_TEST_RESET_STATS": "false",
        },
        dotenv_file=tmp_path / ".env",
    )
    assert settings.host == "http://127.0.0.1:9000"
    assert (settings.users, settings.spawn_rate, settings.duration) == (300, 50.0, "2m")
    assert (settings.think_min_s, settings.think_max_s) == (0.0, 0.0)
    assert settings.service_token == "abc"
    assert settings.reset_stats is False


@pytest.mark.parametrize(
    "environ",
    [
        {"LOAD_TEST_USERS": "many"},
        {"LOAD_TEST_USERS": "0"},
        {"LOAD_TEST_THINK_MIN_S": "2", "LOAD_TEST_THINK_MAX_S": "1"},
        {"LOAD_TEST_SPAWN_RATE": "-1"},
        {"LOAD_TEST_DURATION": "a minute"},
        {"LOAD_TEST_DURATION": ""},
        {"LOAD_TEST_RESET_STATS": "maybe"},
    ],
)
def test_settings_refuse_nonsense(environ: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(LoadTestConfigError):
        LoadTestSettings.from_env(environ, dotenv_file=tmp_path / ".env")


@pytest.mark.parametrize(
    ("timespan", "seconds"), [("90", 90), ("90s", 90), ("2m", 120), ("1h30m", 5400), ("1m30s", 90)]
)
def test_durations_read_like_locusts_run_time(timespan: str, seconds: int) -> None:
    assert parse_seconds(timespan) == seconds


def test_the_secret_falls_back_to_the_dev_stack_env_file(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"WATCHLIST_JWT_SECRET={SECRET}\n")
    assert LoadTestSettings.from_env({}, dotenv_file=dotenv).jwt_secret == SECRET
    explicit = {"LOAD_TEST_JWT_SECRET": "explicit-" + "z" * 40}
    assert (
        LoadTestSettings.from_env(explicit, dotenv_file=dotenv).jwt_secret == explicit["LOAD_TEST_JWT_SECRET"]
    )


# --- identities ---------------------------------------------------------------------------------------------


async def test_minted_tokens_pass_the_services_own_verifier() -> None:
    verifier = TokenVerifier(Settings(_env_file=None, jwt_secret=SECRET))
    principal = await verifier.verify(mint_token(SECRET, "loadtest-7", scopes=(SCOPE_READ_ANY,)))
    assert principal.sub == "loadtest-7"
    assert principal.scopes == {SCOPE_READ_ANY}
    assert (DEV_ISSUER, DEV_AUDIENCE) == ("watchlist-dev", "watchlist")


def test_the_users_file_is_read_and_missing_tokens_are_minted(tmp_path: Path) -> None:
    users_file = tmp_path / "users.jsonl"
    users_file.write_text('{"userId": "load-user-0", "token": "t0"}\n\n{"userId": "load-user-1"}\n')
    assert [(i.user_id, i.token) for i in read_users_file(users_file)] == [
        ("load-user-0", "t0"),
        ("load-user-1", None),
    ]
    pool = IdentityPool(LoadTestSettings(users_file=users_file, jwt_secret=SECRET))
    identities = {pool.identity().user_id: pool.identity() for _ in range(50)}
    assert set(identities) == {"load-user-0", "load-user-1"}
    assert all(identity.token for identity in identities.values())
    assert {pool.user_id() for _ in range(50)} == {"load-user-0", "load-user-1"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"userId": "a", "token": "t"}\nnot json\n', ":2:"),
        ('{"token": "t"}\n', ":1:"),
        ('{"userId": 7}\n', ":1:"),
        ("\n", "no users"),
    ],
)
def test_a_bad_users_file_names_the_line(tmp_path: Path, content: str, message: str) -> None:
    users_file = tmp_path / "users.jsonl"
    users_file.write_text(content)
    with pytest.raises(LoadTestConfigError, match=message):
        read_users_file(users_file)


def test_without_a_users_file_tokens_are_minted_for_random_users(tmp_path: Path) -> None:
    settings = LoadTestSettings(users_file=tmp_path / "missing.jsonl", jwt_secret=SECRET, random_user_count=3)
    pool = IdentityPool(settings)
    assert {pool.identity().user_id for _ in range(60)} == {"loadtest-0", "loadtest-1", "loadtest-2"}
    assert pool.service_token() == pool.service_token()  # minted once

    with pytest.raises(LoadTestConfigError, match="LOAD_TEST_JWT_SECRET"):
        IdentityPool(LoadTestSettings(users_file=tmp_path / "missing.jsonl")).identity()
    given = IdentityPool(LoadTestSettings(users_file=tmp_path / "missing.jsonl", service_token="svc"))
    assert given.service_token() == "svc"


# --- the run's verdict --------------------------------------------------------------------------------------


def test_totals_come_from_the_aggregated_row(tmp_path: Path) -> None:
    totals = run.read_totals(stats_csv(tmp_path / "locust_stats.csv", 591, 3))
    assert (totals.requests, totals.failures) == (591, 3)
    assert totals.p99_ms == 120
    assert totals.requests_per_s == pytest.approx(65.6)
    (tmp_path / "empty.csv").write_text(STATS_HEADER + "\n")
    with pytest.raises(ValueError, match="Aggregated"):
        run.read_totals(tmp_path / "empty.csv")


@pytest.mark.parametrize(
    ("requests", "failures", "exceptions", "passes"),
    [
        (10_000, 0, 0, True),
        (10_000, 10, 0, True),  # exactly 0.1 % is not above it
        (10_000, 11, 0, False),
        (0, 0, 0, False),  # nothing measured is no pass
        (10_000, 0, 1, False),  # a scenario that raised is broken
    ],
)
def test_the_verdict(tmp_path: Path, requests: int, failures: int, exceptions: int, passes: bool) -> None:
    totals = run.read_totals(stats_csv(tmp_path / "locust_stats.csv", requests, failures))
    passed, line = run.verdict(totals, 0.001, exceptions)
    assert passed is passes
    assert line.startswith("PASS" if passes else "FAIL")


def test_the_command_runs_headless_for_the_configured_time(tmp_path: Path) -> None:
    settings = LoadTestSettings(users=300, spawn_rate=50, duration="90s", processes=2)
    command = run.locust_command(settings, tmp_path)
    joined = " ".join(command)
    assert command[:3] == [sys.executable, "-m", "locust"]
    for part in (
        "-f loadtests/locustfile.py",
        "--headless",
        "--users 300",
        "--spawn-rate 50",
        "--run-time 97s",  # 90 s measured after a 300 / 50 = 6 s ramp-up (+1 s)
        "--reset-stats",
        f"--csv {tmp_path}/locust",
        f"--html {tmp_path}/locust.html",
        "--exit-code-on-error 0",
        "--processes 2",
    ):
        assert part in joined
    assert "--processes" not in run.locust_command(LoadTestSettings(), tmp_path)
    unreset = " ".join(run.locust_command(LoadTestSettings(duration="1m30s", reset_stats=False), tmp_path))
    assert "--run-time 90s" in unreset
    assert "--reset-stats" not in unreset


def test_main_exits_on_the_verdict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = LoadTestSettings(reports_dir=tmp_path)

    def locust_writing(
        requests: int, failures: int, returncode: int = 0, ramp_up: tuple[int, int] | None = None
    ) -> Callable[[list[str], dict[str, str]], int]:
        def fake(command: list[str], env: dict[str, str]) -> int:
            stats_csv(tmp_path / "locust_stats.csv", requests, failures)
            if ramp_up is not None:
                Path(env[RAMP_FILE_ENV]).write_text(
                    json.dumps({"users": 10, "requests": ramp_up[0], "failures": ramp_up[1]})
                )
            (tmp_path / "locust_failures.csv").write_text(
                "Method,Name,Error,Occurrences\nGET,/v1/movies,boom,3\n" if failures else ""
            )
            return returncode

        return fake

    assert run.main(settings, locust_writing(5_000, 0)) == 0
    assert run.main(settings, locust_writing(5_000, 50)) == 1
    assert "3 x GET /v1/movies: boom" in capsys.readouterr().out
    assert run.main(settings, locust_writing(5_000, 0, returncode=2)) == 2
    # Failures while users were still starting count too, though the statistics were reset after them.
    assert run.main(settings, locust_writing(5_000, 0, ramp_up=(400, 0))) == 0
    assert "ramp-up before that: 400 requests, 0 failed" in capsys.readouterr().out
    assert run.main(settings, locust_writing(5_000, 0, ramp_up=(400, 5))) == 1
    assert "during the ramp-up" in capsys.readouterr().out
    # A crashed Locust leaves no report, and a previous run's report is never judged instead.
    assert run.main(settings, lambda command, env: 0) == 1


# --- the wrk replay of the mix ------------------------------------------------------------------------------


def test_the_wrk_mix_counts_statuses_and_flags_only_unexpected_ones() -> None:
    """Statuses come from the script's ``done`` line; adds of titles already listed (409) are expected."""
    output = 'Running 5s test\n  Latency 2ms\nSTATUSES {"200":90,"409":3,"503":2}\nRequests/sec: 19.0\n'
    statuses = parse_statuses(output)
    assert statuses == {200: 90, 409: 3, 503: 2}
    result = Result(name="mix", rps=19.0, p50_ms=2.0, p99_ms=9.0, non_2xx=5, errors=1)
    mix = MixResult(result=result, statuses=statuses)
    assert (mix.requests, mix.unexpected) == (95, 3)
    assert parse_statuses("no status line") == {}


def test_the_wrk_mix_has_the_locust_users_weights() -> None:
    """The replay issues each kind of request as often as the Locust user does (browse issues two)."""
    source = (REPO_ROOT / "loadtests" / "scenarios" / "mobile.py").read_text(encoding="utf-8")
    task_weights = sorted(
        int(dec.args[0].value)  # type: ignore[attr-defined]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef)
        for dec in node.decorator_list
        if isinstance(dec, ast.Call) and getattr(dec.func, "id", "") == "task"
    )
    weights = dict(MIX)
    assert weights["catalog"] == weights["catalog_next"]
    replayed = sorted([weights["catalog"], *(w for k, w in MIX if k not in ("catalog", "catalog_next"))])
    assert replayed == task_weights


def test_the_bench_counts_the_access_lines_a_server_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bench's "access log on" is checked against the lines the server really wrote."""
    configure_logging("INFO")
    try:
        log_access("GET", "/v1/hello", 200, 1.0, "req-1")
        log_access("GET", "/v1/watchlist", 200, 2.0, "req-2")
    finally:
        configure_logging("WARNING")  # what the test suite runs with otherwise
    (tmp_path / "server-1.log").write_text(capsys.readouterr().err + '{"logger":"uvicorn.error"}\n')
    (tmp_path / "bare-2.log").write_text(f'{{"logger":"{ACCESS_LOGGER}"}}\n')  # not one of ours
    assert count_access_lines(tmp_path) == 2


def test_compare_takes_a_source_tree_and_an_optional_log_level(tmp_path: Path) -> None:
    (tmp_path / "watchlist_service").mkdir()
    assert _version(f"a={tmp_path}:WARNING") == (
        "a",
        {"PYTHONPATH": str(tmp_path.resolve()), "WATCHLIST_LOG_LEVEL": "WARNING"},
    )
    assert _version(f"b={tmp_path}")[1]["WATCHLIST_LOG_LEVEL"] == "INFO"
    with pytest.raises(argparse.ArgumentTypeError):
        _version(f"c={tmp_path / 'nowhere'}")


def test_the_bench_compares_with_the_mean_of_two_bare_runs_and_says_when_the_machine_drifted() -> None:
    first = Result(name="bare", rps=10_000.0, p50_ms=2.0, p99_ms=4.0, non_2xx=0, errors=0)
    steady = Result(name="bare", rps=10_500.0, p50_ms=2.2, p99_ms=5.0, non_2xx=0, errors=1)
    assert (mean_of(first, steady).rps, mean_of(first, steady).p99_ms, mean_of(first, steady).errors) == (
        10_250.0,
        4.5,
        1,
    )
    assert "+5%" in drift(first, steady)
    assert "uncertain" not in drift(first, steady)
    slower = Result(name="bare", rps=8_000.0, p50_ms=2.5, p99_ms=6.0, non_2xx=0, errors=0)
    assert "-20%" in drift(first, slower)
    assert "uncertain" in drift(first, slower)
