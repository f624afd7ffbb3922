"""Orthanc configuration: reading ``orthanc.json`` files the way Orthanc does, and typing the keys we honour.

The JSON keys keep Orthanc's exact names; inside the code each honoured key is one typed field of
:class:`Settings`. The pipeline, each step a function so that it can be tested alone:

1. :func:`load_configuration` reads one file, or every ``*.json`` file of a folder, and merges them
   (a top-level key defined in two files is an error, as in Orthanc's ``OrthancConfiguration.cpp``).
   Before parsing, ``${VAR}`` / ``${VAR:-default}`` are replaced by environment variables (Orthanc
   >= 1.5.0), then ``//`` and ``/* */`` comments are blanked out (Orthanc's JsonCpp accepts them).
2. Environment variables ``ORTHANC__SOME_KEY`` and ``ORTHANC_JSON`` then override keys, as the
   official Orthanc Docker images do (their ``generateConfiguration.py``), so that the same
   ``docker-compose.yml`` drives orthanc_py.
3. :func:`settings_from_json` checks the types of the honoured keys and builds :class:`Settings`;
   any other key is logged as ignored, never fatal (Orthanc itself ignores keys it does not read).

Every problem a user can fix raises :class:`ConfigurationError`, whose message names the file (and
line) or the key, because the command line prints it as is, without a traceback.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .config_keys import (
    _PORT_KEYS,
    _SAMPLE_COMMENTED_OUT,
    _SAMPLE_LAYOUT,
    ENCODINGS,
    KEY_DOCS,
    KEYS,
    ORTHANC_KEYS,
    PATH_KEYS,
    SECTION_KEYS,
)

logger = logging.getLogger(__name__)

JsonObject = dict[str, Any]

# Orthanc's ErrorCode values reported with configuration errors (the CLI prints "(code N)" as Orthanc
# does). Plain ints so that this module depends on nothing else in the package.
ERROR_BAD_PARAMETER_TYPE = 5
ERROR_PARAMETER_OUT_OF_RANGE = 3
ERROR_INEXISTENT_FILE = 13
ERROR_BAD_FILE_FORMAT = 15
ERROR_BAD_JSON = 28


class ConfigurationError(ValueError):
    """A configuration problem the user must fix; the message is meant to be printed as is.

    A ``ValueError`` so that code written against the first version of this module (which raised
    ``ValueError`` for wrong types) keeps working.
    """

    def __init__(self, message: str, code: int = ERROR_BAD_FILE_FORMAT, key: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.key = key  # the configuration option at fault, when there is one


@dataclass
class Settings:
    name: str = "MyOrthanc"
    storage_directory: str = "OrthancStorage"
    index_directory: str = ""  # empty: same as storage_directory
    storage_compression: bool = False
    overwrite_instances: bool = False
    http_port: int = 8042
    http_bind: str = "0.0.0.0"
    dicom_port: int = 4242
    dicom_aet: str = "ORTHANC"
    remote_access_allowed: bool = False
    # When "AuthenticationEnabled" is absent, settings_from_json sets this to remote_access_allowed
    # (Orthanc >= 1.5.8); the dataclass default only matters for a Settings built by hand.
    authentication_enabled: bool = False
    registered_users: dict[str, str] = field(default_factory=dict)
    default_encoding: str = "Latin1"
    case_sensitive_pn: bool = False
    limit_find_results: int = 0
    limit_find_instances: int = 0
    store_md5_for_attachments: bool = True
    http_describe_errors: bool = True
    maximum_storage_size: int = 0  # MB
    maximum_patient_count: int = 0
    maximum_storage_mode: str = "Recycle"  # or "Reject"
    read_only: bool = False
    sync_storage_area: bool = True
    http_processes: int = 0  # 0: one per CPU core, at most 4
    stable_age: int = 60
    dicom_server_enabled: bool = True
    dicom_check_called_aet: bool = False
    dicom_always_allow_echo: bool = True
    dicom_always_allow_store: bool = True
    dicom_always_allow_find: bool = False
    dicom_always_allow_find_worklist: bool = False
    dicom_always_allow_get: bool = False
    dicom_always_allow_move: bool = False
    dicom_check_modality_host: bool = False
    unknown_sop_class_accepted: bool = False
    accepted_transfer_syntaxes: list[str] = field(default_factory=lambda: ["1.2.840.10008.1.*"])
    deflated_transfer_syntax_accepted: bool = True
    jpeg_transfer_syntax_accepted: bool = True
    jpeg2000_transfer_syntax_accepted: bool = True
    jpeg_lossless_transfer_syntax_accepted: bool = True
    jpip_transfer_syntax_accepted: bool = True
    mpeg2_transfer_syntax_accepted: bool = True
    mpeg4_transfer_syntax_accepted: bool = True
    h265_transfer_syntax_accepted: bool = True
    rle_transfer_syntax_accepted: bool = True
    dicom_scp_timeout: int = 30
    maximum_pdu_length: int = 16384
    tcp_no_delay: bool = True
    strict_aet_comparison: bool = False
    dicom_echo_checks_find: bool = False
    dicom_scu_timeout: int = 10
    dicom_association_close_delay: int = 5
    synchronous_cmove: bool = True
    query_retrieve_size: int = 100
    storage_commitment_reports_size: int = 100
    dicom_default_retrieve_method: str = "C-MOVE"
    dicom_modalities: dict[str, Any] = field(default_factory=dict)
    dicom_modalities_in_database: bool = False
    orthanc_peers: dict[str, Any] = field(default_factory=dict)
    orthanc_peers_in_database: bool = False
    http_timeout: int = 60
    https_verify_peers: bool = True
    log_exported_resources: bool = False
    concurrent_jobs: int = 2
    jobs_history_size: int = 10
    save_jobs: bool = True
    dicom_web: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    # Not configuration keys: where the configuration came from, and command-line switches.
    configuration_path: str = ""  # absolute path of the file or folder given, "" for the defaults
    configuration_directory: str = ""  # folder that relative paths are resolved against
    upgrade_database: bool = False  # --upgrade
    load_jobs_from_database: bool = True  # False with --no-jobs

    @property
    def index_path(self) -> str:
        return self.index_directory or self.storage_directory

    @classmethod
    def from_json(cls, config: Mapping[str, Any], base_directory: str | None = None) -> Settings:
        """Alias of :func:`settings_from_json`, for callers that prefer a constructor."""
        return settings_from_json(config, base_directory)


# --------------------------------------------------------------------------------------------------
# Reading one file: variables, comments, JSON.
# --------------------------------------------------------------------------------------------------

# Orthanc's Toolbox::SubstituteVariables, alternative for alternative: ${VAR}, ${VAR:-default},
# ${VAR:-"default"}, ${VAR:-'default'}. An unset variable without default becomes the empty string;
# a variable set to "" stays "" (unlike the shell's ":-").
_VARIABLE = re.compile(
    r"\$\{([^:]*?)\}"
    r"|\$\{([^:]*?):-([^'\"]*?)\}"
    r"|\$\{([^:]*?):-\"([^\"]*?)\"\}"
    r"|\$\{([^:]*?):-'([^']*?)'\}"
)


def substitute_variables(text: str, environ: Mapping[str, str]) -> str:
    """Replace ``${VAR}`` and ``${VAR:-default}`` by environment variables, exactly as Orthanc does.

    Done on the raw text before parsing (so a variable may even stand for a number), as Orthanc does.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return environ.get(match.group(1), "")
        for name_group in (2, 4, 6):
            name = match.group(name_group)
            if name is not None:
                default = match.group(name_group + 1)
                return environ.get(name, default)
        return match.group(0)  # pragma: no cover - every alternative has a name group

    return _VARIABLE.sub(replace, text)


# A JSON string (possibly unterminated: the JSON parser then reports it), or a comment. Scanning
# strings first is what keeps "http://host" and "a/*b" intact.
_STRING_OR_COMMENT = re.compile(
    r'"(?:[^"\\\n]|\\.)*"?'  # a string
    r"|//[^\r\n]*"  # a line comment
    r"|/\*.*?\*/"  # a block comment
    r"|/\*",  # an unterminated block comment
    re.DOTALL,
)
_STRING_OR_TRAILING_COMMA = re.compile(r'"(?:[^"\\\n]|\\.)*"?|,(?=\s*[\]}])')


def _blank(text: str) -> str:
    """Spaces instead of ``text``, keeping its line breaks, so that line and column numbers hold."""
    return re.sub(r"[^\r\n]", " ", text)


def _line_of(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def strip_comments(text: str) -> str:
    """Blank out ``//`` and ``/* */`` comments outside strings; raise ValueError if ``/*`` is unclosed.

    Comments become spaces rather than disappearing so that JSON errors keep the line and column of
    the original file, which the error message quotes.
    """

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith('"'):
            return token
        if token == "/*":
            raise ValueError(f"line {_line_of(text, match.start())}: unterminated /* comment")
        return _blank(token)

    return _STRING_OR_COMMENT.sub(replace, text)


def strip_trailing_commas(text: str) -> str:
    """Blank out commas just before ``]`` or ``}``: JsonCpp >= 1.9.4, used by Orthanc, accepts them."""
    return _STRING_OR_TRAILING_COMMA.sub(lambda m: m.group(0) if m.group(0) != "," else " ", text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json_with_comments(text: str) -> Any:
    """Parse Orthanc-flavoured JSON: comments and trailing commas allowed, NaN/Infinity refused.

    Raises ``json.JSONDecodeError`` (with line and column) or ``ValueError``. Trailing commas are
    only removed when the text does not parse as it is, and a text that parses neither way reports
    the error of the text as written: blanking a comma can move the error elsewhere
    (``"a" : ,}`` would be reported at the ``}``).
    """
    cleaned = strip_comments(text)
    try:
        return json.loads(cleaned, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        without_commas = strip_trailing_commas(cleaned)
        if without_commas == cleaned:
            raise
        try:
            return json.loads(without_commas, parse_constant=_reject_constant)
        except json.JSONDecodeError:
            raise error from None


def parse_configuration_text(text: str, source: str, environ: Mapping[str, str] | None = None) -> JsonObject:
    """Parse the content of one configuration file; ``source`` names it in error messages."""
    env = os.environ if environ is None else environ
    text = substitute_variables(text, env)
    prefix = f"The configuration file does not follow the JSON syntax: {source}"
    try:
        value = parse_json_with_comments(text)
    except json.JSONDecodeError as error:
        raise ConfigurationError(
            f"{prefix} (line {error.lineno}, column {error.colno}: {error.msg})", ERROR_BAD_JSON
        ) from None
    except ValueError as error:
        raise ConfigurationError(f"{prefix} ({error})", ERROR_BAD_JSON) from None
    if not isinstance(value, dict):
        raise ConfigurationError(f"{prefix} (the top-level value must be a JSON object)", ERROR_BAD_JSON)
    return value


def read_configuration_file(path: str, environ: Mapping[str, str] | None = None) -> JsonObject:
    """Read and parse one configuration file (UTF-8, an optional BOM is skipped as JsonCpp does)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise ConfigurationError(
            f"Cannot read the configuration file {path}: {error.strerror}", ERROR_INEXISTENT_FILE
        ) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigurationError(
            f"The configuration file is not valid UTF-8: {path} (line {line})", ERROR_BAD_JSON
        ) from None
    return parse_configuration_text(text, path, environ)


def configuration_files(path: str) -> list[str]:
    """The files that make up the configuration at ``path``: itself, or the ``*.json`` of a folder.

    A folder is scanned non-recursively and its ``.json`` files (extension compared
    case-insensitively) are taken in name order: Orthanc takes them in directory order, which is
    arbitrary, and since a key may only be defined once the order does not change the result.
    """
    if not os.path.exists(path):
        raise ConfigurationError(f"Inexistent path to configuration: {path}", ERROR_INEXISTENT_FILE)
    if not os.path.isdir(path):
        return [path]
    files = []
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        if os.path.splitext(name)[1].lower() == ".json" and not os.path.isdir(full):
            files.append(full)
    return files


def load_configuration_files(
    path: str | None, environ: Mapping[str, str] | None = None, origins: dict[str, str] | None = None
) -> JsonObject:
    """Merge the configuration files at ``path`` (none: the empty object, i.e. Orthanc's defaults).

    ``origins``, if given, receives the file that defined each top-level key, for error messages.
    """
    merged: JsonObject = {}
    if path is None:
        logger.warning("Using the default Orthanc configuration")
        return merged
    if os.path.isdir(path):
        logger.warning('Scanning folder "%s" for configuration files', path)
    defined_in: dict[str, str] = {}
    for file in configuration_files(path):
        logger.warning("Reading the configuration from: %s", file)
        for key, value in read_configuration_file(file, environ).items():
            if key in merged:
                raise ConfigurationError(
                    f'The configuration section "{key}" is defined in 2 different configuration files: '
                    f"{defined_in[key]} and {file}",
                    ERROR_BAD_FILE_FORMAT,
                    key,
                )
            merged[key] = value
            defined_in[key] = file
    if origins is not None:
        origins.update((key, f"in {file}") for key, file in defined_in.items())
    return merged


# --------------------------------------------------------------------------------------------------
# Environment variables, as in the Orthanc Docker images.
# --------------------------------------------------------------------------------------------------

ENV_PREFIX = "ORTHANC__"
ENV_JSON = "ORTHANC_JSON"


def _camel_case(token: str) -> str:
    """QUERY_RETRIEVE_SIZE -> QueryRetrieveSize: the Docker images' rule when no known key matches."""
    return "".join(word[:1].upper() + word[1:].lower() for word in token.split("_"))


def _squash(name: str) -> str:
    return name.replace("_", "").lower()


def env_token_to_key(token: str, existing: Iterable[str] = (), known: Iterable[str] = ()) -> str:
    """The JSON key that one ``__``-separated part of an environment variable name stands for.

    Underscores and case are ignored when comparing, so acronyms come out right: first against the
    keys already in the configuration at that level (a modality named "sample" in a file stays
    "sample"), then against the known Orthanc keys (STORE_MD5_FOR_ATTACHMENTS ->
    StoreMD5ForAttachments, POSTGRESQL -> PostgreSQL), else plain CamelCase (the Docker rule).
    """
    squashed = _squash(token)
    for candidates in (existing, known):
        for key in candidates:
            if _squash(key) == squashed:
                return key
    return _camel_case(token)


def env_name_to_path(name: str, config: Mapping[str, Any] | None = None) -> list[str]:
    """``ORTHANC__DICOM_WEB__ENABLE`` -> ``["DicomWeb", "Enable"]``; ValueError if not of that form."""
    if not name.startswith(ENV_PREFIX):
        raise ValueError(f"Not an {ENV_PREFIX} environment variable: {name}")
    tokens = name[len(ENV_PREFIX) :].split("__")
    if any(not token.strip("_") for token in tokens):
        raise ValueError(f"Malformed environment variable name: {name}")
    path: list[str] = []
    level: Any = config if config is not None else {}
    known: Iterable[str] = ORTHANC_KEYS
    for token in tokens:
        existing = level.keys() if isinstance(level, Mapping) else ()
        key = env_token_to_key(token, existing, known)
        path.append(key)
        level = level.get(key) if isinstance(level, Mapping) else None
        known = SECTION_KEYS.get(key, ()) if len(path) == 1 else ()
    return path


def parse_env_value(raw: str, path: list[str]) -> Any:
    """JSON when the value parses as JSON (numbers, booleans, objects...), else the string itself.

    Where a string is expected (``ORTHANC__DICOM_AET=12345``), the raw text is kept rather than
    handing the key a number that would then be rejected: a string was obviously meant.
    """
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    if len(path) == 1 and KEYS.get(path[0], ("", object))[1] is str and not isinstance(value, str):
        return raw
    return value


def _merge(target: JsonObject, source: Mapping[str, Any]) -> None:
    """Deep merge, ``source`` winning, objects merged key by key (the Docker images' _mergeConfigs)."""
    for key, value in source.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


def apply_environment_overrides(
    config: JsonObject, environ: Mapping[str, str] | None = None, origins: dict[str, str] | None = None
) -> JsonObject:
    """Apply ``ORTHANC_JSON`` then the ``ORTHANC__*`` variables (sorted by name) to ``config`` in place.

    Values are never logged: they are often passwords. ``origins``, if given, records the variable
    that last set each top-level key.
    """
    origin: dict[str, str] = {} if origins is None else origins
    env = os.environ if environ is None else environ
    if ENV_JSON in env:
        try:
            value = parse_json_with_comments(env[ENV_JSON])
        except ValueError as error:
            raise ConfigurationError(
                f"The environment variable {ENV_JSON} does not follow the JSON syntax ({error})",
                ERROR_BAD_JSON,
            ) from None
        if not isinstance(value, dict):
            raise ConfigurationError(
                f"The environment variable {ENV_JSON} must hold a JSON object", ERROR_BAD_JSON
            )
        logger.info("Configuration options %s set by the environment variable %s", sorted(value), ENV_JSON)
        _merge(config, value)
        origin.update(dict.fromkeys(value, f"by the environment variable {ENV_JSON}"))
    for name in sorted(env):
        if not name.startswith(ENV_PREFIX):
            continue
        try:
            path = env_name_to_path(name, config)
        except ValueError as error:
            logger.warning("%s, ignored", error)
            continue
        value = parse_env_value(env[name], path)
        for key in reversed(path[1:]):
            value = {key: value}
        logger.info('Configuration option "%s" set by the environment variable %s', ".".join(path), name)
        _merge(config, {path[0]: value})
        origin[path[0]] = f"by the environment variable {name}"
    return config


def load_configuration(
    path: str | None, environ: Mapping[str, str] | None = None, origins: dict[str, str] | None = None
) -> JsonObject:
    """The merged configuration object: files at ``path`` (or the defaults), then the environment.

    ``origins``, if given, receives where each top-level key was last set (a file, a variable).
    """
    return apply_environment_overrides(load_configuration_files(path, environ, origins), environ, origins)


# --------------------------------------------------------------------------------------------------
# Typed settings.
# --------------------------------------------------------------------------------------------------

_TYPE_NAMES: dict[type, str] = {
    bool: "a Boolean (true or false)",
    int: "an integer",
    str: "a string",
    dict: "a JSON object",
    list: "a JSON array",
}


def _check_value(key: str, value: Any, expected: type) -> Any:
    """The value of an honoured key, or ConfigurationError naming the key (Orthanc's wording)."""
    if expected is list and isinstance(value, str):
        value = [value]  # Orthanc's LookupListOfStrings takes a lone string as a list of one
    if expected is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, expected)
    if not ok:
        raise ConfigurationError(
            f'The configuration option "{key}" must be {_TYPE_NAMES.get(expected, expected.__name__)}',
            ERROR_BAD_PARAMETER_TYPE,
            key,
        )
    if expected is int:
        if value < 0:
            raise ConfigurationError(
                f'The configuration option "{key}" must be a positive integer',
                ERROR_PARAMETER_OUT_OF_RANGE,
                key,
            )
        if key in _PORT_KEYS and value > 65535:
            raise ConfigurationError(
                f'The configuration option "{key}" must be a TCP port (0 to 65535)',
                ERROR_PARAMETER_OUT_OF_RANGE,
                key,
            )
    if key == "RegisteredUsers":
        for user, password in value.items():
            if not isinstance(password, str):
                raise ConfigurationError(
                    f'Badly formatted list of users in "{key}": the password of "{user}" must be a string',
                    ERROR_BAD_FILE_FORMAT,
                    key,
                )
        return dict(value)
    if key == "DefaultEncoding":
        for encoding in ENCODINGS:
            if encoding.lower() == value.lower():
                return encoding
        raise ConfigurationError(
            f'The configuration option "{key}" has an unknown value "{value}" '
            f"(allowed: {', '.join(ENCODINGS)})",
            ERROR_PARAMETER_OUT_OF_RANGE,
            key,
        )
    if key == "MaximumStorageMode" and value not in ("Recycle", "Reject"):
        raise ConfigurationError(
            f'The configuration option "{key}" must be "Recycle" or "Reject", not "{value}"',
            ERROR_PARAMETER_OUT_OF_RANGE,
            key,
        )
    return value


def _warn_ignored(key: str) -> None:
    if key in ORTHANC_KEYS:
        logger.warning('Configuration option "%s" is not supported by orthanc_py, ignored', key)
        return
    suggestion = difflib.get_close_matches(key, sorted(ORTHANC_KEYS), n=1, cutoff=0.8)
    hint = f' (did you mean "{suggestion[0]}"?)' if suggestion else ""
    logger.warning('Unknown configuration option "%s", ignored%s', key, hint)


def settings_from_json(config: Mapping[str, Any], base_directory: str | None = None) -> Settings:
    """Build typed settings from a merged configuration object.

    Unknown keys are logged (one warning each) and ignored, never fatal; an honoured key of the wrong
    type raises :class:`ConfigurationError` naming it. With ``base_directory``, relative paths are
    resolved against it, as Orthanc resolves them against the folder of the configuration file.
    """
    if not isinstance(config, Mapping):
        raise ConfigurationError("The configuration must be a JSON object", ERROR_BAD_JSON)
    settings = Settings(raw=dict(config))
    for key, value in config.items():
        entry = KEYS.get(key)
        if entry is None:
            _warn_ignored(key)
            continue
        attr, expected = entry
        setattr(settings, attr, _check_value(key, value, expected))
    if "AuthenticationEnabled" not in config:
        # Orthanc >= 1.5.8: never open the REST API to remote hosts without authentication by accident.
        settings.authentication_enabled = settings.remote_access_allowed
        if settings.remote_access_allowed:
            logger.warning(
                "Remote access is enabled while user authentication is implicitly enabled (option "
                '"AuthenticationEnabled" is unset): set it explicitly to silence this warning'
            )
    if base_directory is not None:
        settings.configuration_directory = os.path.abspath(base_directory)
        for key in PATH_KEYS:
            attr = KEYS[key][0]
            value = getattr(settings, attr)
            if value:
                setattr(
                    settings, attr, os.path.normpath(os.path.join(settings.configuration_directory, value))
                )
    return settings


def configuration_directory(path: str | None) -> str:
    """The folder relative paths are resolved against: Orthanc's ``defaultDirectory_``."""
    if path is None:
        return os.getcwd()
    if os.path.isdir(path):
        return os.path.abspath(path)
    return os.path.dirname(os.path.abspath(path))


def load_settings(path: str | None, environ: Mapping[str, str] | None = None) -> Settings:
    """Everything the server needs at start-up: load, override from the environment, type, resolve."""
    origins: dict[str, str] = {}
    config = load_configuration(path, environ, origins)
    try:
        settings = settings_from_json(config, configuration_directory(path))
    except ConfigurationError as error:
        if error.key is not None and error.key in origins:
            raise ConfigurationError(f"{error} (set {origins[error.key]})", error.code, error.key) from None
        raise
    settings.configuration_path = os.path.abspath(path) if path is not None else ""
    return settings


# --------------------------------------------------------------------------------------------------
# The sample configuration (orthanc.json.example, and what --config=FILE writes).
# --------------------------------------------------------------------------------------------------


def default_configuration_text() -> str:
    """The sample configuration: every honoured key, its one-line doc and its default value.

    Generated rather than stored so that it cannot drift from KEYS and from the defaults of Settings;
    ``orthanc.json.example`` is this text (a unit test checks that it was regenerated).
    """
    defaults = Settings()
    live = [key for _, keys in _SAMPLE_LAYOUT for key in keys if key not in _SAMPLE_COMMENTED_OUT]
    last_live = live[-1]
    lines = [
        "{",
        "  // Sample configuration of orthanc_py: every option it honours, with Orthanc's default value.",
        "  // Same syntax as Orthanc: comments are allowed, and a folder of *.json files may be given",
        "  // instead of one file. Environment variables override options (ORTHANC__HTTP_PORT=8043).",
    ]
    for title, keys in _SAMPLE_LAYOUT:
        lines += ["", f"  /** {title} **/"]
        for key in keys:
            lines += ["", f"  // {KEY_DOCS[key]}"]
            if key in _SAMPLE_COMMENTED_OUT:
                rendered = json.dumps(_SAMPLE_COMMENTED_OUT[key], ensure_ascii=False)
                lines.append(f'  // "{key}" : {rendered},')
            else:
                rendered = json.dumps(getattr(defaults, KEYS[key][0]), ensure_ascii=False)
                lines.append(f'  "{key}" : {rendered}{"" if key == last_live else ","}')
    lines.append("}")
    return "\n".join(lines) + "\n"
