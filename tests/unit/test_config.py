"""Configuration loading: Orthanc's file syntax, folder merge, Docker-style environment, typed keys."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orthanc_py import config
from orthanc_py.config import (
    KEY_DOCS,
    KEYS,
    ORTHANC_KEYS,
    ConfigurationError,
    Settings,
    apply_environment_overrides,
    default_configuration_text,
    env_name_to_path,
    load_configuration,
    load_settings,
    parse_configuration_text,
    parse_json_with_comments,
    settings_from_json,
    strip_comments,
    substitute_variables,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "orthanc.json.example"


def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


# --------------------------------------------------------------------------------------------------
# Comments
# --------------------------------------------------------------------------------------------------


def test_comments_are_blanked_and_strings_kept() -> None:
    text = """{
  // a line comment with "quotes" and /* inside
  "Url" : "http://example.com/a//b", /* block
  spanning lines */ "Glob" : "/*.dcm",
  "Escaped" : "say \\"//hi\\" /* not a comment */",
  "Slash" : "\\\\" // a backslash just before the closing quote
}"""
    assert parse_json_with_comments(text) == {
        "Url": "http://example.com/a//b",
        "Glob": "/*.dcm",
        "Escaped": 'say "//hi" /* not a comment */',
        "Slash": "\\",
    }


def test_comment_blanking_keeps_line_and_column_numbers() -> None:
    text = '{ /* one\ntwo */ "a" : 1 // three\n}'
    stripped = strip_comments(text)
    assert len(stripped) == len(text)
    assert stripped.split("\n")[1].index('"a"') == text.split("\n")[1].index('"a"')
    assert stripped.count("\n") == text.count("\n")


def test_unterminated_block_comment_names_its_line() -> None:
    with pytest.raises(ValueError, match="line 3"):
        strip_comments('{\n "a": 1\n /* never closed\n}')


def test_trailing_commas_are_accepted_like_jsoncpp() -> None:
    assert parse_json_with_comments('{"a" : [1, 2, ], "b" : ",]", }') == {"a": [1, 2], "b": ",]"}


def test_errors_are_reported_where_the_text_is_wrong() -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        parse_json_with_comments('{\n  "a" : ,\n}')
    assert caught.value.lineno == 2


def test_nan_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_json_with_comments('{"a": NaN}')


# Strings made to look like comments: "//", "/*", "*/", quotes and backslashes everywhere.
tricky_text = st.lists(
    st.sampled_from(["/", "*", '"', "\\", "a", " ", "\n", "é", "\u2028", "//", "/*", "*/", ",]", ",}"]),
    max_size=15,
).map("".join) | st.text(max_size=30)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | tricky_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(tricky_text, children, max_size=4),
    max_leaves=20,
)
line_comment_text = st.text(max_size=20).filter(lambda s: "\n" not in s and "\r" not in s)
block_comment_text = st.text(max_size=20).filter(lambda s: "*/" not in s)


@given(tricky_text, st.booleans())
def test_stripping_never_alters_a_string(value: str, ensure_ascii: bool) -> None:
    encoded = json.dumps(value, ensure_ascii=ensure_ascii)
    assert strip_comments(encoded) == encoded
    assert config.strip_trailing_commas(encoded) == encoded


@given(json_values, st.lists(line_comment_text, min_size=1), st.lists(block_comment_text, min_size=1))
@settings(max_examples=200)
def test_comments_anywhere_between_tokens_leave_the_value_intact(
    value: Any, line_comments: list[str], block_comments: list[str]
) -> None:
    lines = json.dumps({"Key": value}, indent=2, ensure_ascii=False).split("\n")
    commented = []
    for i, line in enumerate(lines):
        block = block_comments[i % len(block_comments)]
        comment = line_comments[i % len(line_comments)]
        commented.append(f"/*{block}*/{line} //{comment}")
    assert parse_json_with_comments("\n".join(commented)) == {"Key": value}


# --------------------------------------------------------------------------------------------------
# ${VAR} substitution (Orthanc >= 1.5.0)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${NAME}", "Hello"),
        ("${MISSING}", ""),
        ("${MISSING:-Default}", "Default"),
        ("${NAME:-Default}", "Hello"),
        ('${MISSING:-"quoted, default"}', "quoted, default"),
        ("${MISSING:-'single'}", "single"),
        ("${EMPTY:-Default}", ""),  # set but empty: Orthanc keeps the empty value
        ("a ${NAME} b ${PORT}", "a Hello b 8043"),
        ("$NAME {NAME}", "$NAME {NAME}"),
    ],
)
def test_substitute_variables_like_orthanc(text: str, expected: str) -> None:
    assert substitute_variables(text, {"NAME": "Hello", "PORT": "8043", "EMPTY": ""}) == expected


def test_variables_are_substituted_before_parsing() -> None:
    parsed = parse_configuration_text(
        '{ "Name" : "${N}", "HttpPort" : ${P:-8042} }', "x.json", {"N": "Archive"}
    )
    assert parsed == {"Name": "Archive", "HttpPort": 8042}


# --------------------------------------------------------------------------------------------------
# Files and folders
# --------------------------------------------------------------------------------------------------


def test_malformed_file_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "orthanc.json", '{\n  // fine\n  "Name" : "x"\n  "HttpPort" : 8042\n}\n')
    with pytest.raises(ConfigurationError) as caught:
        load_configuration(path, {})
    message = str(caught.value)
    assert path in message
    assert "line 4" in message
    assert caught.value.code == config.ERROR_BAD_JSON


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    path = write(tmp_path / "a.json", "[1, 2]")
    with pytest.raises(ConfigurationError, match="top-level value must be a JSON object"):
        load_configuration(path, {})


def test_inexistent_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="Inexistent path to configuration"):
        load_configuration(str(tmp_path / "nope.json"), {})


def test_invalid_utf8_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    path.write_bytes(b'{\n "Name" : "caf\xe9"\n}')
    with pytest.raises(ConfigurationError, match=r"not valid UTF-8.*latin1\.json \(line 2\)"):
        load_configuration(str(path), {})


def test_utf8_bom_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b'\xef\xbb\xbf{"Name" : "x"}')
    assert load_configuration(str(path), {}) == {"Name": "x"}


def test_folder_files_are_merged(tmp_path: Path) -> None:
    write(tmp_path / "dicom.json", '{ "DicomAet" : "ARCHIVE", // comment\n "DicomPort" : 104 }')
    write(tmp_path / "http.json", '{ "HttpPort" : 80 }')
    write(tmp_path / "UPPER.JSON", '{ "Name" : "upper" }')
    write(tmp_path / "notes.txt", "not json at all")
    (tmp_path / "sub.json").mkdir()  # a folder named like a file is skipped
    write(tmp_path / "sub.json" / "deep.json", '{ "Ignored" : true }')
    assert load_configuration(str(tmp_path), {}) == {
        "DicomAet": "ARCHIVE",
        "DicomPort": 104,
        "HttpPort": 80,
        "Name": "upper",
    }


def test_key_defined_in_two_files_names_both(tmp_path: Path) -> None:
    first = write(tmp_path / "a.json", '{ "HttpPort" : 80 }')
    second = write(tmp_path / "b.json", '{ "Name" : "x", "HttpPort" : 81 }')
    with pytest.raises(ConfigurationError) as caught:
        load_configuration(str(tmp_path), {})
    message = str(caught.value)
    assert '"HttpPort"' in message and first in message and second in message


def test_empty_folder_gives_defaults(tmp_path: Path) -> None:
    assert load_settings(str(tmp_path), {}).http_port == 8042


def test_no_configuration_gives_orthanc_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_configuration(None, {}) == {}
    loaded = load_settings(None, {})
    assert (loaded.name, loaded.http_port, loaded.dicom_port, loaded.dicom_aet) == (
        "MyOrthanc",
        8042,
        4242,
        "ORTHANC",
    )
    assert loaded.storage_directory == str(tmp_path / "OrthancStorage")
    assert loaded.index_path == loaded.storage_directory
    assert loaded.configuration_path == ""


# --------------------------------------------------------------------------------------------------
# Environment variables (Orthanc Docker images)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("ORTHANC__NAME", ["Name"]),
        ("ORTHANC__DICOM_AET", ["DicomAet"]),
        ("ORTHANC__DICOM_PORT", ["DicomPort"]),
        ("ORTHANC__HTTP_PORT", ["HttpPort"]),
        ("ORTHANC__REMOTE_ACCESS_ALLOWED", ["RemoteAccessAllowed"]),
        ("ORTHANC__STORAGE_COMPRESSION", ["StorageCompression"]),
        ("ORTHANC__REGISTERED_USERS", ["RegisteredUsers"]),
        ("ORTHANC__DICOM_MODALITIES", ["DicomModalities"]),
        ("ORTHANC__STORE_MD5_FOR_ATTACHMENTS", ["StoreMD5ForAttachments"]),
        ("ORTHANC__CASE_SENSITIVE_PN", ["CaseSensitivePN"]),
        ("ORTHANC__HTTPS_CA_CERTIFICATES", ["HttpsCACertificates"]),
        ("ORTHANC__SSL_ENABLED", ["SslEnabled"]),
        ("ORTHANC__DICOM_TLS_ENABLED", ["DicomTlsEnabled"]),
        ("ORTHANC__QUERY_RETRIEVE_SIZE", ["QueryRetrieveSize"]),
        ("ORTHANC__DICOM_WEB__ENABLE", ["DicomWeb", "Enable"]),
        ("ORTHANC__POSTGRESQL__ENABLE_SSL", ["PostgreSQL", "EnableSsl"]),
        ("ORTHANC__MYSQL__UNIX_SOCKET", ["MySQL", "UnixSocket"]),
        ("ORTHANC__AWS_S3_STORAGE__BUCKET_NAME", ["AwsS3Storage", "BucketName"]),
        ("ORTHANC__SOME_FUTURE_OPTION", ["SomeFutureOption"]),  # unknown: the Docker CamelCase rule
        ("ORTHANC__MY_PLUGIN__SOME_OPTION", ["MyPlugin", "SomeOption"]),
    ],
)
def test_env_name_to_path(name: str, path: list[str]) -> None:
    assert env_name_to_path(name) == path


def test_env_names_match_keys_already_in_the_configuration() -> None:
    existing = {"DicomModalities": {"sample": ["STORESCP", "127.0.0.1", 2000]}, "myPlugin": {"xKey": 1}}
    assert env_name_to_path("ORTHANC__DICOM_MODALITIES__SAMPLE", existing) == ["DicomModalities", "sample"]
    assert env_name_to_path("ORTHANC__MY_PLUGIN__X_KEY", existing) == ["myPlugin", "xKey"]


@pytest.mark.parametrize("name", ["ORTHANC__", "ORTHANC__A____B", "ORTHANC____A", "ORTHANC__A__"])
def test_malformed_env_names(name: str) -> None:
    with pytest.raises(ValueError):
        env_name_to_path(name)


def test_environment_values() -> None:
    environ = {
        "ORTHANC__NAME": "Archive",
        "ORTHANC__DICOM_AET": "12345",  # a string key keeps the raw text
        "ORTHANC__HTTP_PORT": "8043",
        "ORTHANC__REMOTE_ACCESS_ALLOWED": "true",
        "ORTHANC__STORAGE_COMPRESSION": "false",
        "ORTHANC__REGISTERED_USERS": '{"a": "b"}',
        "ORTHANC__DICOM_WEB__ENABLE": "true",
        "ORTHANC__DICOM_WEB__ROOT": "/dicom-web/",
        "ORTHANC__": "ignored",
        "PATH": "/usr/bin",
    }
    assert apply_environment_overrides({}, environ) == {
        "Name": "Archive",
        "DicomAet": "12345",
        "HttpPort": 8043,
        "RemoteAccessAllowed": True,
        "StorageCompression": False,
        "RegisteredUsers": {"a": "b"},
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }


def test_environment_overrides_files_and_merges_objects(tmp_path: Path) -> None:
    path = write(
        tmp_path / "orthanc.json",
        '{ "HttpPort" : 80, "DicomWeb" : { "Root" : "/dw/" }, "RegisteredUsers" : { "c" : "d" } }',
    )
    environ = {
        "ORTHANC__HTTP_PORT": "8043",
        "ORTHANC__DICOM_WEB__ENABLE": "true",
        "ORTHANC__REGISTERED_USERS": '{"a": "b"}',
    }
    assert load_configuration(path, environ) == {
        "HttpPort": 8043,
        "DicomWeb": {"Root": "/dw/", "Enable": True},
        "RegisteredUsers": {"c": "d", "a": "b"},
    }


def test_orthanc_json_variable() -> None:
    environ = {
        "ORTHANC_JSON": '{ "Name" : "FromJson", // comment\n "HttpPort" : 1 }',
        "ORTHANC__HTTP_PORT": "2",
    }
    assert apply_environment_overrides({"Name": "file"}, environ) == {"Name": "FromJson", "HttpPort": 2}
    with pytest.raises(ConfigurationError, match="ORTHANC_JSON"):
        apply_environment_overrides({}, {"ORTHANC_JSON": "{ nope"})


def test_environment_type_errors_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r'"HttpPort".*ORTHANC__HTTP_PORT'):
        load_settings(None, {"ORTHANC__HTTP_PORT": "abc"})
    path = write(tmp_path / "o.json", '{ "HttpPort" : "80" }')
    with pytest.raises(ConfigurationError, match=rf'"HttpPort".*{path}'):
        load_settings(path, {})


# --------------------------------------------------------------------------------------------------
# Typed settings
# --------------------------------------------------------------------------------------------------


def test_honoured_keys_are_typed() -> None:
    loaded = settings_from_json(
        {
            "Name": "Archive",
            "HttpPort": 80,
            "DicomAet": "ARCHIVE",
            "RemoteAccessAllowed": True,
            "AuthenticationEnabled": False,
            "RegisteredUsers": {"alice": "secret"},
            "StoreMD5ForAttachments": False,
            "DefaultEncoding": "utf8",
        }
    )
    assert (loaded.name, loaded.http_port, loaded.dicom_aet) == ("Archive", 80, "ARCHIVE")
    assert loaded.remote_access_allowed and not loaded.authentication_enabled
    assert loaded.registered_users == {"alice": "secret"}
    assert loaded.store_md5_for_attachments is False
    assert loaded.default_encoding == "Utf8"  # Orthanc's canonical spelling
    assert loaded.raw["Name"] == "Archive"


def test_unknown_keys_are_logged_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="orthanc_py.config"):
        loaded = settings_from_json({"Plugins": [], "HttpPrt": 80, "Frobnicate": 1, "HttpPort": 81})
    assert loaded.http_port == 81
    assert loaded.raw["Frobnicate"] == 1
    messages = [r.getMessage() for r in caplog.records]
    assert any('"Plugins" is not supported by orthanc_py' in m for m in messages)
    assert any('"HttpPrt"' in m and 'did you mean "HttpPort"' in m for m in messages)
    assert any('"Frobnicate"' in m for m in messages)
    assert sum('"Plugins"' in m for m in messages) == 1


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("HttpPort", "8042", "must be an integer"),
        ("HttpPort", True, "must be an integer"),
        ("HttpPort", 8042.0, "must be an integer"),
        ("HttpPort", -1, "positive integer"),
        ("DicomPort", 70000, "TCP port"),
        ("Name", 3, "must be a string"),
        ("RemoteAccessAllowed", "true", "must be a Boolean"),
        ("StorageCompression", 1, "must be a Boolean"),
        ("RegisteredUsers", [], "must be a JSON object"),
        ("RegisteredUsers", {"alice": 1}, "alice"),
        ("DefaultEncoding", "Klingon", "unknown value"),
    ],
)
def test_wrong_types_name_the_key(key: str, value: Any, fragment: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        settings_from_json({key: value})
    assert f'"{key}"' in str(caught.value)
    assert fragment in str(caught.value)
    assert caught.value.key == key
    assert isinstance(caught.value, ValueError)  # what the first version of this module raised


def test_authentication_follows_remote_access_when_unset() -> None:
    assert settings_from_json({"RemoteAccessAllowed": True}).authentication_enabled is True
    assert settings_from_json({"RemoteAccessAllowed": False}).authentication_enabled is False
    assert settings_from_json({}).authentication_enabled is False
    explicit = settings_from_json({"RemoteAccessAllowed": True, "AuthenticationEnabled": False})
    assert explicit.authentication_enabled is False


def test_relative_paths_follow_the_configuration_file(tmp_path: Path) -> None:
    folder = tmp_path / "etc"
    folder.mkdir()
    path = write(folder / "orthanc.json", '{ "StorageDirectory" : "db", "IndexDirectory" : "/abs/index" }')
    loaded = load_settings(path, {})
    assert loaded.storage_directory == str(folder / "db")
    assert loaded.index_directory == "/abs/index"
    assert loaded.configuration_path == path
    assert loaded.configuration_directory == str(folder)
    # A folder of files: paths are relative to the folder itself.
    assert load_settings(str(folder), {}).storage_directory == str(folder / "db")


def test_settings_from_json_without_base_keeps_paths_as_given() -> None:
    assert settings_from_json({"StorageDirectory": "db"}).storage_directory == "db"
    assert Settings.from_json({"StorageDirectory": "db"}).storage_directory == "db"


# --------------------------------------------------------------------------------------------------
# orthanc.json.example
# --------------------------------------------------------------------------------------------------


def test_example_file_is_the_generated_sample() -> None:
    assert EXAMPLE.read_text(encoding="utf-8") == default_configuration_text(), (
        "orthanc.json.example is stale: regenerate it with "
        "`python -m orthanc_py --config=orthanc.json.example`"
    )


def test_example_file_loads_to_the_defaults() -> None:
    loaded = load_configuration(str(EXAMPLE), {})
    assert set(loaded) <= set(KEYS)
    example = settings_from_json(loaded)
    defaults = Settings()
    for attr, _ in KEYS.values():
        assert getattr(example, attr) == getattr(defaults, attr), attr


def test_example_documents_every_honoured_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    for key in KEYS:
        assert f'"{key}" :' in text, key
    assert set(KEY_DOCS) == set(KEYS)
    laid_out = [key for _, keys in config._SAMPLE_LAYOUT for key in keys]
    assert sorted(laid_out) == sorted(KEYS)
    for attr, _ in KEYS.values():
        assert hasattr(Settings(), attr), attr
    assert set(KEYS) <= ORTHANC_KEYS


def test_example_loads_through_the_public_entry_point() -> None:
    loaded = load_settings(str(EXAMPLE), {})
    assert loaded.storage_directory == os.path.join(str(REPO), "OrthancStorage")
