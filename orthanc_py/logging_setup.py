"""Logging with Orthanc's line format and verbosity levels.

Orthanc (OrthancFramework/Sources/Logging.cpp) writes Google-Log-like lines::

    W1125 09:41:00.123456 MainThread main.py:123] Orthanc has started

(level letter E/W/I/T, month and day, local time with microseconds, thread, file:line). Scripts and
people who grep Orthanc logs find the same lines here.

Orthanc's verbosities map onto ``logging`` levels:

* ``default``: warnings and errors only, as in Orthanc, whose important start-up lines ("Orthanc has
  started", the ports...) are warnings for exactly that reason;
* ``verbose`` (``--verbose``): adds INFO;
* ``trace`` (``--trace``): adds DEBUG and our TRACE level (5): everything.

Since Orthanc 1.8.1 each log category (generic, http, dicom...) has its own verbosity
(``--verbose-http``, ``PUT /tools/log-level-http``); :data:`CATEGORY_LOGGERS` says which Python
loggers make up each category. The global level is the "generic" one, as for ``/tools/log-level``.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
import threading
from collections.abc import Mapping
from typing import TextIO

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

VERBOSITIES: dict[str, int] = {"default": logging.WARNING, "verbose": logging.INFO, "trace": TRACE}

# Orthanc's log categories (Logging::LogCategory) and the Python loggers each one drives. Records of
# other loggers (third-party libraries...) follow the root logger, i.e. the "generic" verbosity.
CATEGORY_LOGGERS: dict[str, tuple[str, ...]] = {
    "generic": ("", "orthanc_py"),
    "plugins": ("orthanc_py.plugins",),
    "http": ("orthanc_py.rest", "orthanc_py.http", "hypercorn", "starlette"),
    "sqlite": ("orthanc_py.index",),
    "dicom": ("orthanc_py.dicom", "pynetdicom"),
    "jobs": ("orthanc_py.jobs",),
    "lua": ("orthanc_py.lua",),
}
LOG_CATEGORIES: tuple[str, ...] = tuple(CATEGORY_LOGGERS)

LOG_FILE_PREFIX = "Orthanc.log"  # --logdir: Orthanc.log.YYYYMMDD-HHMMSS.PID, and an Orthanc.log symlink

_lock = threading.Lock()
_handler: logging.Handler | None = None
_levels: dict[str, str] = dict.fromkeys(LOG_CATEGORIES, "default")


def _letter(levelno: int) -> str:
    if levelno >= logging.ERROR:
        return "E"
    if levelno >= logging.WARNING:
        return "W"
    if levelno >= logging.INFO:
        return "I"
    return "T"  # DEBUG and TRACE: Orthanc has a single level below INFO


def _thread(name: str | None) -> str:
    """The thread name without spaces ("Thread-2 (worker)" -> "Thread-2(worker)"): log parsers split
    Orthanc's lines on whitespace, and Orthanc's thread names have none."""
    return "".join((name or "?").split())


class OrthancFormatter(logging.Formatter):
    """``Lmmdd hh:mm:ss.uuuuuu thread file:line] message``, Orthanc's line format."""

    def format(self, record: logging.LogRecord) -> str:
        moment = datetime.datetime.fromtimestamp(record.created)
        header = (
            f"{_letter(record.levelno)}{moment:%m%d %H:%M:%S}.{moment.microsecond:06d} "
            f"{_thread(record.threadName)} {record.filename}:{record.lineno}] "
        )
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            message += "\n" + self.formatStack(record.stack_info)
        return header + message


def _check_verbosity(level: str) -> int:
    try:
        return VERBOSITIES[level]
    except KeyError:
        raise ValueError(f"Unknown log level {level!r}: expected one of {', '.join(VERBOSITIES)}") from None


def _check_category(category: str) -> None:
    if category not in CATEGORY_LOGGERS:
        raise ValueError(f"Unknown log category {category!r}: expected one of {', '.join(LOG_CATEGORIES)}")


def _apply(category: str, level: str) -> None:
    number = VERBOSITIES[level]
    for name in CATEGORY_LOGGERS[category]:
        logging.getLogger(name).setLevel(number)
    _levels[category] = level


def set_log_level(level: str) -> None:
    """Set every category to ``level`` ("default", "verbose" or "trace"): ``PUT /tools/log-level``.

    Raises ValueError for any other value (the REST layer answers 400 then, as Orthanc does).
    """
    _check_verbosity(level)
    with _lock:
        for category in LOG_CATEGORIES:
            _apply(category, level)


def get_log_level() -> str:
    """The current global verbosity, i.e. that of the "generic" category: ``GET /tools/log-level``."""
    return _levels["generic"]


def set_category_log_level(category: str, level: str) -> None:
    """Set one category's verbosity: ``PUT /tools/log-level-http`` and ``--verbose-http``."""
    _check_category(category)
    _check_verbosity(level)
    with _lock:
        _apply(category, level)


def get_category_log_level(category: str) -> str:
    """One category's verbosity: ``GET /tools/log-level-http``."""
    _check_category(category)
    return _levels[category]


def log_directory_file(directory: str) -> str:
    """Open-able path of a new log file in ``directory``, named as Orthanc names its own.

    Orthanc writes ``<program>.log.YYYYMMDD-HHMMSS.<pid>`` and points a ``<program>.log`` symlink at
    it; the program being Orthanc, we keep its name so existing log rotation and scripts still match.
    Raises OSError if the folder does not exist.
    """
    if not os.path.isdir(directory):
        raise FileNotFoundError(directory)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{LOG_FILE_PREFIX}.{stamp}.{os.getpid()}"
    link = os.path.join(directory, LOG_FILE_PREFIX)
    try:
        if os.path.islink(link) or os.path.exists(link):
            os.remove(link)
        os.symlink(name, link)
    except OSError:
        pass  # the symlink is a convenience (and impossible on some systems)
    return os.path.join(directory, name)


def configure_logging(
    verbosity: str = "default",
    *,
    log_file: str | None = None,
    log_dir: str | None = None,
    stream: TextIO | None = None,
    categories: Mapping[str, str] | None = None,
) -> str | None:
    """Route log records to stderr (default), ``log_file`` (appended to) or a new file in ``log_dir``.

    Calling it again replaces our handler rather than adding a second one, so tests and a restart of
    the server can reconfigure freely; handlers installed by others (pytest's) are left alone.
    Returns the path of the log file, if any. Raises OSError if it cannot be opened, ValueError for
    an unknown verbosity or category.
    """
    global _handler
    _check_verbosity(verbosity)
    for category, level in (categories or {}).items():
        _check_category(category)
        _check_verbosity(level)

    path: str | None = None
    handler: logging.Handler
    if log_dir is not None:
        path = log_directory_file(log_dir)
        handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    elif log_file is not None:
        path = log_file
        handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(OrthancFormatter())

    root = logging.getLogger()
    with _lock:
        if _handler is not None:
            root.removeHandler(_handler)
            _handler.close()
        _handler = handler
        root.addHandler(handler)
        for category in LOG_CATEGORIES:
            _apply(category, verbosity)
        for category, level in (categories or {}).items():
            _apply(category, level)
    logging.captureWarnings(True)
    return path


def current_log_file() -> str | None:
    """The file our handler writes to, or None when logging to a stream."""
    handler = _handler
    if isinstance(handler, logging.FileHandler):
        return handler.baseFilename
    return None
