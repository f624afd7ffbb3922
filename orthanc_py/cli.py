"""The ``orthanc-py`` command line: Orthanc's own (``Orthanc [OPTION]... [CONFIGURATION]``).

Parsing follows OrthancServer/Sources/main.cpp rather than argparse conventions, so that the
command lines of existing Orthanc deployments (systemd units, Dockerfiles) keep working:

* options are read left to right, and ``--help``, ``--version``, ``--errors`` and ``--config=FILE``
  act (and exit 0) as soon as they are read;
* the first argument not starting with ``-`` is the configuration file or folder; a second one is an
  error;
* values are attached with ``=`` (``--logdir=/var/log``): ``--logdir /var/log`` would make
  ``/var/log`` the configuration path, as in Orthanc;
* an unknown option is a warning, not an error (Orthanc leaves them to plugins);
* failures exit with status 255 (Orthanc returns -1) after one error line in the log, never a
  traceback: users act on the message (a file and a line), not on our stack.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import FrameType

from . import config as configuration
from . import logging_setup

logger = logging.getLogger("orthanc_py.main")

EXIT_SUCCESS = 0
EXIT_FAILURE = 255  # Orthanc's "return -1", as the shell sees it

PROGRAM = "orthanc-py"


def _versions() -> tuple[str, str]:
    """(our version, the Orthanc release we mimic), from the package, with fallbacks for odd installs."""
    try:
        from orthanc_py import ORTHANC_VERSION, __version__
    except ImportError:  # pragma: no cover - the package always defines them
        return "0.1.0", "1.12.7"
    return str(__version__), str(ORTHANC_VERSION)


HELP = """\
Usage: {program} [OPTION]... [CONFIGURATION]
orthanc_py, a Python drop-in replacement for the Orthanc DICOM server.

The "CONFIGURATION" argument can be a single file or a directory. In the
case of a directory, all the JSON files it contains will be merged.
If no configuration path is given on the command line, a set of default
parameters is used. Options are read left to right.

Command-line options:
  --help\t\tdisplay this help and exit
  --logdir=[dir]\tdirectory where to store the log files
\t\t\t(by default, the log is dumped to stderr)
  --logfile=[file]\tfile where to store the log of Orthanc
\t\t\t(by default, the log is dumped to stderr)
  --config=[file]\tcreate a sample configuration file and exit
\t\t\t(if "file" is "-", dumps to stdout)
  --errors\t\tprint the supported error codes and exit
  --verbose\t\tbe verbose in logs
  --trace\t\thighest verbosity in logs (for debug)
  --upgrade\t\tallow Orthanc to upgrade the version of the
\t\t\tdatabase (beware that the database will become
\t\t\tincompatible with former versions of Orthanc)
  --no-jobs\t\tdon't restart the jobs that were stored during
\t\t\tthe last execution of Orthanc
  --version\t\toutput version information and exit

Fine-tuning of log categories:
{categories}
Environment variables:
  ORTHANC__SOME_OPTION\toverride option "SomeOption" (JSON value or string;
\t\t\tnested options with "__", e.g. ORTHANC__DICOM_WEB__ENABLE)
  ORTHANC_JSON\t\tJSON object merged into the configuration

Exit status:
  0\tif success,
  255\tif error (have a look at the logs).
"""


class CommandLineError(Exception):
    """A command line Orthanc would refuse; the message is logged as is."""


@dataclass
class Options:
    configuration: str | None = None
    verbosity: str = "default"
    categories: dict[str, str] = field(default_factory=dict)
    log_file: str | None = None
    log_dir: str | None = None
    upgrade: bool = False
    no_jobs: bool = False
    warnings: list[str] = field(default_factory=list)
    # An action that ends the program right away: ("help" | "version" | "errors" | "config", argument).
    action: tuple[str, str] | None = None


def parse_command_line(arguments: Sequence[str]) -> Options:
    """Read the arguments left to right as Orthanc's main() does; stop at the first exiting action."""
    options = Options()
    for argument in arguments:
        if not argument:
            continue  # Orthanc ignores empty arguments
        if not argument.startswith("-"):
            if options.configuration is not None:
                raise CommandLineError(
                    "More than one configuration path were provided on the command line, aborting"
                )
            options.configuration = argument
        elif argument in ("--help", "--version", "--errors"):
            options.action = (argument[2:], "")
            return options
        elif argument.startswith("--config="):
            options.action = ("config", argument[len("--config=") :])
            return options
        elif argument == "--verbose":
            # A global verbosity resets the categories read before it, as in Orthanc.
            options.verbosity, options.categories = "verbose", {}
        elif argument == "--trace":
            options.verbosity, options.categories = "trace", {}
        elif (
            argument.startswith("--verbose-")
            and argument[len("--verbose-") :] in logging_setup.LOG_CATEGORIES
        ):
            options.categories[argument[len("--verbose-") :]] = "verbose"
        elif argument.startswith("--trace-") and argument[len("--trace-") :] in logging_setup.LOG_CATEGORIES:
            options.categories[argument[len("--trace-") :]] = "trace"
        elif argument.startswith("--logdir="):
            directory = argument[len("--logdir=") :]
            if not os.path.isdir(directory):
                raise CommandLineError(
                    f"The directory where to store the log files ({directory}) is inexistent, aborting."
                )
            options.log_dir, options.log_file = directory, None
        elif argument.startswith("--logfile="):
            options.log_file, options.log_dir = argument[len("--logfile=") :], None
        elif argument == "--upgrade":
            options.upgrade = True
        elif argument == "--no-jobs":
            options.no_jobs = True
        else:
            options.warnings.append(f"Option unsupported by the core of Orthanc: {argument}")
    return options


def _print_version() -> None:
    version, orthanc = _versions()
    print(f"orthanc_py {version}")
    print(f"Drop-in replacement for Orthanc {orthanc} (same REST API, orthanc.json and command line)")
    print("Licensing GPLv3+: GNU GPL version 3 or later <https://gnu.org/licenses/gpl.html>.")
    print("This is free software: you are free to change and redistribute it.")
    print("There is NO WARRANTY, to the extent permitted by law.")


def _print_help() -> None:
    categories = "".join(
        f'  --verbose-{name}\tbe verbose in logs of category "{name}"\n'
        f'  --trace-{name}\tuse highest verbosity for logs of category "{name}"\n'
        for name in logging_setup.LOG_CATEGORIES
    )
    print(HELP.format(program=PROGRAM, categories=categories), end="")


def _print_errors() -> int:
    try:
        from orthanc_py.core.errors import ERROR_DESCRIPTIONS, ErrorCode
    except ImportError:
        print("The list of error codes is not available in this installation", file=sys.stderr)
        return EXIT_FAILURE
    version, orthanc = _versions()
    print(f"orthanc_py {version} (Orthanc {orthanc})\n")
    print("List of error codes that could be returned by Orthanc:\n")
    for code in ErrorCode:
        print(f"  {int(code):>4}   {ERROR_DESCRIPTIONS.get(code, code.name)}")
    print()
    return EXIT_SUCCESS


def _write_sample_configuration(target: str) -> int:
    text = configuration.default_configuration_text()
    if target == "-":
        sys.stdout.write(text)
        return EXIT_SUCCESS
    try:
        with open(target, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError:
        logger.error('Cannot write sample configuration as file "%s"', target)
        return EXIT_FAILURE
    return EXIT_SUCCESS


def _fail(message: str) -> int:
    """Log an error that stops start-up; also on stderr when the log goes to a file."""
    logger.error("%s", message, stacklevel=2)
    if logging_setup.current_log_file() is not None:
        print(message, file=sys.stderr)
    return EXIT_FAILURE


def _sigterm_to_sigint(signum: int, frame: FrameType | None) -> None:
    """``docker stop`` sends SIGTERM: shut down as gracefully as for Ctrl+C (asyncio cancels serve())."""
    signal.raise_signal(signal.SIGINT)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server as Orthanc's main() does; returns the exit status (0, or 255 on failure)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    logging_setup.configure_logging()  # stderr, Orthanc's default verbosity, until the options are read

    try:
        options = parse_command_line(arguments)
    except CommandLineError as error:
        return _fail(str(error))

    if options.action is not None:
        action, argument = options.action
        if action == "help":
            _print_help()
        elif action == "version":
            _print_version()
        elif action == "errors":
            return _print_errors()
        else:
            return _write_sample_configuration(argument)
        return EXIT_SUCCESS

    try:
        logging_setup.configure_logging(
            options.verbosity,
            log_file=options.log_file,
            log_dir=options.log_dir,
            categories=options.categories,
        )
    except OSError:
        target = options.log_file if options.log_file is not None else options.log_dir
        return _fail(f"Cannot write to the specified log file ({target}), aborting.")
    for warning in options.warnings:
        logger.warning("%s", warning)

    version, orthanc = _versions()
    logger.warning("orthanc_py version: %s (drop-in replacement for Orthanc %s)", version, orthanc)

    if threading.current_thread() is threading.main_thread():
        # Signal handlers can only be installed from the main thread (tests may call main() elsewhere).
        signal.signal(signal.SIGTERM, _sigterm_to_sigint)

    serve: Callable[[configuration.Settings], bool] | None = None
    while True:
        # The configuration is read before the server core is imported: a configuration error is
        # reported the same way whatever the state of the rest of the installation.
        try:
            settings = configuration.load_settings(options.configuration)
        except configuration.ConfigurationError as error:
            return _fail(f"Uncaught exception, stopping now: [{error}] (code {error.code})")
        settings.upgrade_database = options.upgrade
        settings.load_jobs_from_database = not options.no_jobs

        if serve is None:
            try:
                from orthanc_py.server import run as server_entry_point
            except ImportError as error:
                return _fail(f"The server core of orthanc_py is not available: {error}")
            serve = server_entry_point

        try:
            restart = serve(settings)
        except KeyboardInterrupt:
            restart = False
        except configuration.ConfigurationError as error:
            return _fail(f"Uncaught exception, stopping now: [{error}] (code {error.code})")
        except Exception as error:  # noqa: BLE001 - the last line of defence: one log line, then exit
            code = getattr(error, "code", None)
            suffix = f" (code {int(code)})" if isinstance(code, int) else ""
            logger.debug("Traceback of the uncaught exception", exc_info=True)
            return _fail(f"Uncaught exception, stopping now: [{error}]{suffix}")

        if restart is True:
            # serve() returns True to be started again (Orthanc's /tools/reset): the configuration
            # is read anew, as Orthanc does.
            logger.warning("Logging system is resetting")
            continue
        break

    logger.warning("Orthanc has stopped")
    return EXIT_SUCCESS
