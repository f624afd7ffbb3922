"""The command line (Orthanc's options and exit codes) and the Orthanc-style logging."""

from __future__ import annotations

import io
import logging
import os
import re
import signal
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import orthanc_py
from orthanc_py import cli, logging_setup
from orthanc_py.cli import EXIT_FAILURE, EXIT_SUCCESS, CommandLineError, main, parse_command_line
from orthanc_py.config import ConfigurationError, Settings, default_configuration_text

REPO = Path(__file__).resolve().parents[2]
LOG_LINE = re.compile(r"^[EWIT]\d{4} \d\d:\d\d:\d\d\.\d{6} \S+ [\w.]+:\d+\] ")


@pytest.fixture(autouse=True)
def restore_logging_and_signals() -> Iterator[None]:
    """main() configures the root logger and SIGTERM: leave both as they were for other tests."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    sigterm = signal.getsignal(signal.SIGTERM)
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    for names in logging_setup.CATEGORY_LOGGERS.values():
        for name in names:
            if name:
                logging.getLogger(name).setLevel(logging.NOTSET)
    logging_setup._levels.update(dict.fromkeys(logging_setup.LOG_CATEGORIES, "default"))
    signal.signal(signal.SIGTERM, sigterm)


def run_module(
    *arguments: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ORTHANC")}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "orthanc_py", *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


# --------------------------------------------------------------------------------------------------
# Parsing, as Orthanc's main() does it
# --------------------------------------------------------------------------------------------------


def test_parse_configuration_and_switches(tmp_path: Path) -> None:
    options = parse_command_line(
        ["", "--verbose", "orthanc.json", f"--logdir={tmp_path}", "--upgrade", "--no-jobs"]
    )
    assert options.configuration == "orthanc.json"
    assert options.verbosity == "verbose"
    assert options.log_dir == str(tmp_path)
    assert options.upgrade and options.no_jobs
    assert options.action is None


def test_second_configuration_path_is_an_error() -> None:
    with pytest.raises(CommandLineError, match="More than one configuration path"):
        parse_command_line(["a.json", "b.json"])


def test_unknown_options_are_warnings() -> None:
    options = parse_command_line(["--frobnicate", "--verbose-nothing", "--logdir", "conf"])
    assert options.warnings == [
        "Option unsupported by the core of Orthanc: --frobnicate",
        "Option unsupported by the core of Orthanc: --verbose-nothing",
        "Option unsupported by the core of Orthanc: --logdir",
    ]
    assert options.configuration == "conf"  # as in Orthanc: values need "="


def test_categories_and_their_reset_by_global_verbosity() -> None:
    options = parse_command_line(["--trace-http", "--verbose-dicom"])
    assert options.categories == {"http": "trace", "dicom": "verbose"}
    options = parse_command_line(["--trace-http", "--verbose"])
    assert (options.verbosity, options.categories) == ("verbose", {})


def test_missing_log_directory() -> None:
    with pytest.raises(CommandLineError, match="is inexistent"):
        parse_command_line(["--logdir=/nonexistent/folder"])


def test_actions_stop_the_parsing() -> None:
    assert parse_command_line(["--version", "a", "b"]).action == ("version", "")
    assert parse_command_line(["--config=out.json", "--help"]).action == ("config", "out.json")


# --------------------------------------------------------------------------------------------------
# main(), in process
# --------------------------------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == EXIT_SUCCESS
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"orthanc_py {orthanc_py.__version__}"
    assert f"Orthanc {orthanc_py.ORTHANC_VERSION}" in out


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == EXIT_SUCCESS
    out = capsys.readouterr().out
    for option in (
        "--logdir=",
        "--logfile=",
        "--config=",
        "--verbose",
        "--trace",
        "--trace-http",
        "--version",
    ):
        assert option in out


def test_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--errors"]) == EXIT_SUCCESS
    assert "Internal error" in capsys.readouterr().out


def test_config_writes_the_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "sample.json"
    assert main([f"--config={target}"]) == EXIT_SUCCESS
    assert target.read_text(encoding="utf-8") == default_configuration_text()
    assert main(["--config=-"]) == EXIT_SUCCESS
    assert capsys.readouterr().out == default_configuration_text()
    assert main([f"--config={tmp_path}/missing/sample.json"]) == EXIT_FAILURE


def test_bad_configuration_fails_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "orthanc.json"
    path.write_text('{\n  "Name" : "x",\n  "HttpPort" : ,\n}\n', encoding="utf-8")
    assert main([str(path)]) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert str(path) in err and "line 3" in err
    assert "Traceback" not in err


def test_configuration_error_also_goes_to_stderr_when_logging_to_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "orthanc.log"
    assert main([f"--logfile={log}", str(tmp_path / "missing.json")]) == EXIT_FAILURE
    assert "Inexistent path to configuration" in capsys.readouterr().err
    assert "Inexistent path to configuration" in log.read_text(encoding="utf-8")


def install_fake_app(monkeypatch: pytest.MonkeyPatch, run: Any) -> None:
    """Replace the server entry point (``orthanc_py.server.run``) with ``run``."""
    module = types.ModuleType("orthanc_py.server")
    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "orthanc_py.server", module)


def test_serve_receives_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    received: list[Settings] = []

    def serve(settings: Settings) -> None:
        received.append(settings)

    install_fake_app(monkeypatch, serve)
    monkeypatch.setenv("ORTHANC__NAME", "FromEnv")
    path = tmp_path / "orthanc.json"
    path.write_text('{ "HttpPort" : 8043 // comment\n}', encoding="utf-8")
    assert main([str(path), "--no-jobs", "--upgrade"]) == EXIT_SUCCESS
    (settings,) = received
    assert (settings.http_port, settings.name) == (8043, "FromEnv")
    assert settings.upgrade_database and not settings.load_jobs_from_database
    assert "Orthanc has stopped" in capsys.readouterr().err


def test_serve_may_ask_for_a_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Settings] = []

    def serve(settings: Settings) -> bool:
        calls.append(settings)
        return len(calls) == 1

    install_fake_app(monkeypatch, serve)
    assert main([]) == EXIT_SUCCESS
    assert len(calls) == 2


def test_server_failure_is_one_log_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class FakeOrthancError(Exception):
        code = 14

    def serve(settings: Settings) -> None:
        raise FakeOrthancError("Cannot write the storage")

    install_fake_app(monkeypatch, serve)
    assert main([]) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert "Uncaught exception, stopping now: [Cannot write the storage] (code 14)" in err
    assert "Traceback" not in err


def test_configuration_error_from_the_server(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def serve(settings: Settings) -> None:
        raise ConfigurationError('Bad format of the "DicomModalities" configuration section')

    install_fake_app(monkeypatch, serve)
    assert main([]) == EXIT_FAILURE
    assert "DicomModalities" in capsys.readouterr().err


def test_keyboard_interrupt_is_a_clean_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    def serve(settings: Settings) -> None:
        raise KeyboardInterrupt

    install_fake_app(monkeypatch, serve)
    assert main([]) == EXIT_SUCCESS


# --------------------------------------------------------------------------------------------------
# python -m orthanc_py, in a subprocess (no server needed)
# --------------------------------------------------------------------------------------------------


def test_module_version(tmp_path: Path) -> None:
    result = run_module("--version", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"orthanc_py {orthanc_py.__version__}\n")
    assert orthanc_py.ORTHANC_VERSION in result.stdout


def test_module_bad_configuration_exits_255(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  // a comment\n  "HttpPort" : 8042 "DicomPort" : 4242\n}\n', encoding="utf-8")
    result = run_module(str(path), cwd=tmp_path)
    assert result.returncode == 255
    assert "broken.json" in result.stderr and "line 3" in result.stderr
    assert "Traceback" not in result.stderr
    assert all(LOG_LINE.match(line) for line in result.stderr.splitlines() if line)


def test_module_wrong_type_from_environment_exits_255(tmp_path: Path) -> None:
    result = run_module(cwd=tmp_path, env={"ORTHANC__DICOM_PORT": "true"})
    assert result.returncode == 255
    assert '"DicomPort"' in result.stderr and "ORTHANC__DICOM_PORT" in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------------------------------


def test_orthanc_line_format() -> None:
    stream = io.StringIO()
    logging_setup.configure_logging(stream=stream)
    logging.getLogger("orthanc_py.test").warning("Orthanc has started")
    line = stream.getvalue()
    assert re.fullmatch(
        r"W\d{4} \d\d:\d\d:\d\d\.\d{6} MainThread test_cli\.py:\d+\] Orthanc has started\n", line
    )


def test_levels_follow_orthanc_verbosities() -> None:
    stream = io.StringIO()
    logging_setup.configure_logging(stream=stream)
    log = logging.getLogger("orthanc_py.something")
    log.info("hidden by default")
    assert logging_setup.get_log_level() == "default"
    logging_setup.set_log_level("verbose")
    log.info("shown when verbose")
    log.debug("hidden when verbose")
    logging_setup.set_log_level("trace")
    log.log(logging_setup.TRACE, "shown when tracing")
    assert logging_setup.get_log_level() == "trace"
    lines = stream.getvalue().splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == ["shown when verbose", "shown when tracing"]
    assert lines[0].startswith("I") and lines[1].startswith("T")
    with pytest.raises(ValueError):
        logging_setup.set_log_level("loud")


def test_category_levels() -> None:
    stream = io.StringIO()
    logging_setup.configure_logging(stream=stream, categories={"http": "verbose"})
    assert logging_setup.get_category_log_level("http") == "verbose"
    assert logging_setup.get_log_level() == "default"
    logging.getLogger("orthanc_py.rest.routes").info("http detail")
    logging.getLogger("orthanc_py.index").info("sqlite detail")
    assert "http detail" in stream.getvalue() and "sqlite detail" not in stream.getvalue()
    logging_setup.set_category_log_level("sqlite", "trace")
    assert logging_setup.get_category_log_level("sqlite") == "trace"
    with pytest.raises(ValueError):
        logging_setup.set_category_log_level("nothing", "trace")


def test_log_file_is_appended(tmp_path: Path) -> None:
    path = tmp_path / "orthanc.log"
    path.write_text("previous line\n", encoding="utf-8")
    logging_setup.configure_logging(log_file=str(path))
    logging.getLogger("orthanc_py.x").error("boom")
    assert logging_setup.current_log_file() == str(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "previous line" and lines[1].startswith("E") and lines[1].endswith("] boom")


def test_log_directory_gets_an_orthanc_named_file(tmp_path: Path) -> None:
    created = logging_setup.configure_logging(log_dir=str(tmp_path))
    assert created is not None
    logging.getLogger("orthanc_py.x").warning("in the folder")
    name = os.path.basename(created)
    assert re.fullmatch(r"Orthanc\.log\.\d{8}-\d{6}\.\d+", name)
    assert "in the folder" in Path(created).read_text(encoding="utf-8")
    link = tmp_path / "Orthanc.log"
    if link.is_symlink():
        assert os.readlink(link) == name


def test_main_with_log_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "o.log"
    assert main([f"--logfile={log}", "--version"]) == EXIT_SUCCESS  # --version acts before logging is set
    assert main([f"--logfile={tmp_path}/no/such/dir/o.log", str(tmp_path / "x.json")]) == EXIT_FAILURE
    assert "Cannot write to the specified log file" in capsys.readouterr().err


def test_cli_module_constants() -> None:
    assert cli.EXIT_FAILURE == 255 and cli.EXIT_SUCCESS == 0


def test_thread_names_have_no_spaces() -> None:
    record = logging.LogRecord("x", logging.WARNING, "f.py", 1, "message", None, None)
    record.threadName = "Thread-2 (_worker)"
    assert " Thread-2(_worker) f.py:1] message" in logging_setup.OrthancFormatter().format(record)
