"""Field-by-field comparison of a recorded Orthanc answer with the answer under test.

Everything is compared exactly (status, the recorded headers, JSON values with their types, list
order, raw bodies by SHA-1) except the fields named by the scenario's rules (:class:`model.Rule`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .model import ABSENT, Rule, encode_response_body, media_type, response_headers

PathKey = str | int


@dataclass(frozen=True)
class Difference:
    step: int
    request: str
    where: str
    expected: Any
    got: Any
    reason: str = ""

    def __str__(self) -> str:
        text = (
            f"step {self.step} {self.request}: {self.where}: "
            f"expected {_short(self.expected)}, got {_short(self.got)}"
        )
        if self.reason:
            text += f" ({self.reason})"
        return text


def _short(value: Any, limit: int = 160) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- rule paths

_TOKEN = re.compile(r"\[\*\]|\[(\d+)\]|\*\*|\*|[^.\[\]]+")
ANY_KEY, ANY_INDEX, DEEP = object(), object(), object()


def parse_path(path: str) -> list[Any]:
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    tokens: list[Any] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token == "[*]":
            tokens.append(ANY_INDEX)
        elif match.group(1) is not None:
            tokens.append(int(match.group(1)))
        elif token == "**":
            tokens.append(DEEP)
        elif token == "*":
            tokens.append(ANY_KEY)
        else:
            tokens.append(token)
    return tokens


def _match(pattern: list[Any], concrete: tuple[PathKey, ...]) -> bool:
    if not pattern:
        return not concrete
    head, rest = pattern[0], pattern[1:]
    if head is DEEP:
        return any(_match(rest, concrete[i:]) for i in range(len(concrete) + 1))
    if not concrete:
        return False
    key = concrete[0]
    if head is ANY_INDEX:
        ok = isinstance(key, int)
    elif head is ANY_KEY:
        ok = isinstance(key, str)
    elif isinstance(head, int):
        ok = isinstance(key, int) and key == head
    else:
        ok = isinstance(key, str) and key == head
    return ok and _match(rest, concrete[1:])


def format_path(concrete: tuple[PathKey, ...]) -> str:
    out = "$"
    for key in concrete:
        out += f"[{key}]" if isinstance(key, int) else f".{key}"
    return out


HEADER_PREFIX = "header:"


class RuleSet:
    """The rules of one step. A rule whose path is ``header:NAME`` applies to a response header."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = [
            (rule, parse_path(rule.path)) for rule in rules if not rule.path.startswith(HEADER_PREFIX)
        ]
        self.header_rules = {
            rule.path[len(HEADER_PREFIX) :].strip().lower(): rule
            for rule in rules
            if rule.path.startswith(HEADER_PREFIX)
        }
        self.used: set[Rule] = set()

    def find(self, concrete: tuple[PathKey, ...], kinds: tuple[str, ...]) -> Rule | None:
        for rule, pattern in self.rules:
            if rule.kind in kinds and _match(pattern, concrete):
                self.used.add(rule)
                return rule
        return None

    def find_header(self, name: str) -> Rule | None:
        rule = self.header_rules.get(name)
        if rule is not None:
            self.used.add(rule)
        return rule


# --------------------------------------------------------------------------- JSON values


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def shape_matches(pattern: str, value: Any) -> bool:
    if isinstance(value, dict | list) or value is None:
        return False
    text = json.dumps(value) if isinstance(value, bool) else str(value)
    return re.fullmatch(pattern, text) is not None


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def diff_json(
    expected: Any, got: Any, rules: RuleSet, path: tuple[PathKey, ...] = ()
) -> list[tuple[str, Any, Any, str]]:
    """Differences as (path, expected, got, reason)."""
    deviation = rules.find(path, ("deviation",))
    if deviation is not None:
        wanted = json.loads(deviation.value or "null")
        return [] if wanted == got else [(format_path(path), wanted, got, "deviation")]
    rule = rules.find(path, ("volatile", "shape"))
    if rule is not None:
        if rule.kind == "shape" and not shape_matches(rule.pattern or "", got):
            return [(format_path(path), f"/{rule.pattern}/", got, "shape rule")]
        return []
    here = format_path(path)
    if _type_name(expected) != _type_name(got):
        return [(here, expected, got, f"type {_type_name(expected)} vs {_type_name(got)}")]
    if isinstance(expected, dict):
        out = []
        for key in expected:
            if key not in got:
                if _deliberately_absent(rules, path + (key,)):
                    continue
                out.append((format_path(path + (key,)), expected[key], "<missing>", "missing key"))
        for key in got:
            if key not in expected:
                if rules.find(path + (key,), ("deviation",)) is not None:
                    out.extend(diff_json(None, got[key], rules, path + (key,)))
                    continue
                out.append((format_path(path + (key,)), "<absent>", got[key], "unexpected key"))
        for key in expected:
            if key in got:
                out.extend(diff_json(expected[key], got[key], rules, path + (key,)))
        return out
    if isinstance(expected, list):
        if rules.find(path, ("unordered",)) is not None:
            if sorted(map(_canonical, expected)) != sorted(map(_canonical, got)):
                return [(here, expected, got, "different elements (unordered list)")]
            return []
        out = []
        if len(expected) != len(got):
            reason = f"length {len(expected)} vs {len(got)}"
            exp_c, got_c = list(map(_canonical, expected)), list(map(_canonical, got))
            missing = [e for e, c in zip(expected, exp_c, strict=True) if c not in got_c]
            extra = [g for g, c in zip(got, got_c, strict=True) if c not in exp_c]
            if missing or extra:
                reason += f"; missing {_short(missing, 200)}; extra {_short(extra, 200)}"
            out.append((here, f"<list of {len(expected)}>", f"<list of {len(got)}>", reason))
        for index, (exp_item, got_item) in enumerate(zip(expected, got, strict=False)):
            out.extend(diff_json(exp_item, got_item, rules, path + (index,)))
        return out
    if isinstance(expected, float) or isinstance(got, float):
        if float(expected) != float(got):
            return [(here, expected, got, "")]
        return []
    if expected != got:
        return [(here, expected, got, "")]
    return []


def _deliberately_absent(rules: RuleSet, path: tuple[PathKey, ...]) -> bool:
    rule = rules.find(path, ("deviation",))
    return rule is not None and json.loads(rule.value or "null") == ABSENT


def _status_deviation(rules: RuleSet) -> int | None:
    for rule, _ in rules.rules:
        if rule.kind == "deviation" and rule.path == "status":
            rules.used.add(rule)
            return int(json.loads(rule.value or "0"))
    return None


# --------------------------------------------------------------------------- whole responses


def compare_response(
    step_index: int,
    recorded_step: dict[str, Any],
    status: int,
    headers: Any,
    content: bytes,
    rules: RuleSet,
) -> list[Difference]:
    """Differences between the recorded response of one step and an actual response."""
    request = recorded_step["request"]
    label = f"{request['method']} {request['path']}"
    expected = recorded_step["response"]
    out: list[Difference] = []

    def add(where: str, exp: Any, got: Any, reason: str = "") -> None:
        out.append(Difference(step_index, label, where, exp, got, reason))

    expected_status = _status_deviation(rules) or expected["status"]
    if expected_status != status:
        add("status", expected_status, status)

    got_headers = response_headers(headers)
    for name in sorted(set(expected["headers"]) | set(got_headers)):
        exp_value, got_value = expected["headers"].get(name), got_headers.get(name)
        header_rule = rules.find_header(name)
        if header_rule is not None and exp_value is not None and got_value is not None:
            if header_rule.kind == "shape" and not shape_matches(header_rule.pattern or "", got_value):
                add(f"header {name}", f"/{header_rule.pattern}/", got_value, "shape rule")
            continue
        if name == "content-type":
            if media_type(exp_value) != media_type(got_value):
                add("header Content-Type", exp_value, got_value, "media type")
        elif name == "allow":
            exp_set = sorted(v.strip() for v in exp_value.split(",")) if exp_value else None
            got_set = sorted(v.strip() for v in got_value.split(",")) if got_value else None
            if exp_set != got_set:
                add("header Allow", exp_value, got_value)
        elif exp_value != got_value:
            add(f"header {name}", exp_value, got_value)

    exp_body = expected["body"]
    got_body = encode_response_body(got_headers.get("content-type"), content)
    root_rule = rules.find((), ("volatile", "shape"))
    if exp_body["kind"] == "json":
        if got_body["kind"] != "json":
            add("body", "<JSON>", _describe_body(got_body, content), "body is not JSON")
        else:
            for where, exp, got, reason in diff_json(exp_body["json"], got_body["json"], rules):
                add(where, exp, got, reason)
        return out
    if root_rule is not None:
        if root_rule.kind == "shape":
            text = content.decode("utf-8", errors="replace")
            if not shape_matches(root_rule.pattern or "", text):
                add("$", f"/{root_rule.pattern}/", text[:200], "shape rule")
        return out
    if exp_body["kind"] == "empty":
        if got_body["kind"] != "empty":
            add("body", "<empty>", _describe_body(got_body, content))
        return out
    same_bytes = got_body["kind"] == "bytes" and (got_body["sha1"], got_body["length"]) == (
        exp_body["sha1"],
        exp_body["length"],
    )
    if not same_bytes:
        exp_desc = exp_body.get("text", f"<{exp_body['length']} bytes sha1 {exp_body['sha1']}>")
        add("body", exp_desc, _describe_body(got_body, content))
    return out


def _describe_body(body: dict[str, Any], content: bytes) -> Any:
    if body["kind"] == "empty":
        return "<empty>"
    if body["kind"] == "json":
        return body["json"]
    if "text" in body:
        return body["text"]
    return f"<{len(content)} bytes sha1 {body['sha1']}>"
