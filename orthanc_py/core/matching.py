"""Matching semantics of Orthanc lookups: ``/tools/find``, DICOM C-FIND and QIDO-RS.

One query engine serves the three front ends. This module is its pure (no I/O) core: it turns a
query string into a :class:`TagConstraint` exactly as Orthanc does, decides whether a stored value
matches it, and tells an SQL backend how to prefilter candidates on indexed columns.

Orthanc sources replicated here (Orthanc 1.5 … 1.12, ``OrthancServer/Sources/Search``):

* ``DatabaseLookup::AddDicomConstraintInternal`` — how a query string becomes constraints
  (:func:`parse_constraint`); ``AddRestConstraint`` (``/tools/find``) and ``AddDicomConstraint``
  (C-FIND, :func:`parse_dicom_constraint`) only differ by which case sensitivity they pass down.
* ``DicomTagConstraint::IsMatch`` — how one stored value is compared (:meth:`TagConstraint.matches`).
  Every lookup result of Orthanc goes through it (``ServerContext::Apply`` up to 1.12.4,
  ``ResourceFinder::Execute`` since 1.12.5), after the database prefilter.
* ``ServerToolbox::NormalizeIdentifier`` + ``ISqlLookupFormatter`` — the database prefilter Orthanc
  applies to its *identifier* tags (``DicomIdentifiers`` table). Because Orthanc's answer is
  "prefilter AND IsMatch", that prefilter is visible to clients for those tags (see
  :data:`ORTHANC_IDENTIFIER_TAGS`), and :meth:`TagConstraint.matches` replicates it.
* ``ISqlLookupFormatter`` on ``MainDicomTags`` with Orthanc's built-in SQLite index — opt-in
  (``is_main_tag=True``): there a case-insensitive comparison is ``lower(value) = lower(?)`` and
  SQLite's ``lower()`` only folds ASCII, so non-ASCII letters must have the same case.
* ``Toolbox::ToUpperCaseWithAccents`` — the case folding of case-insensitive comparisons
  (:func:`fold_case`). Despite its name it does **not** strip accents: it upper-cases every
  character one by one, accented ones included (``"é"`` matches ``"É"`` but not ``"E"``).

Rules, in Orthanc's order (first that applies wins):

1. Empty query string: universal matching, no constraint (:func:`parse_constraint` returns None).
2. VR DA, DT or TM and a ``-`` in the string: range split at the *first* ``-``; ``lo-hi`` gives
   :attr:`ConstraintKind.RANGE`, ``lo-`` :attr:`~ConstraintKind.GREATER_OR_EQUAL`, ``-hi``
   :attr:`~ConstraintKind.SMALLER_OR_EQUAL`, ``-`` alone nothing. Bounds are compared as plain
   strings (``"-2012"`` does *not* match ``"20120315"``, which sorts after ``"2012"``).
3. A ``\\`` in the string: :attr:`~ConstraintKind.LIST` of its ``\\``-separated items (empty items
   included), matched literally and exactly (a ``*`` in an item is not a wildcard).
4. VR AE, CS, LO, LT, PN, SH, ST, UC, UR or UT and a ``*`` or ``?``: :attr:`~ConstraintKind.WILDCARD`.
   ``*`` alone is a real constraint: it matches every *present* value (empty string included) but
   not a missing tag.
5. Otherwise :attr:`~ConstraintKind.EQUAL`. A ``*`` or ``?`` that ends up in an Equal or range bound
   (e.g. ``"StudyDate": "*"``, ``"StudyInstanceUID": "1.2.*"``) is an error in Orthanc
   (``ParameterOutOfRange`` "Wildcards are not allowed on tag …", HTTP 400): :class:`ConstraintError`.

Stored values are compared whole: a multi-valued ``"ORIGINAL\\PRIMARY"`` does not equal
``"ORIGINAL"`` (but matches the wildcard ``"*PRIMARY*"``). A missing tag (pass ``None``) matches
only non-mandatory constraints; Orthanc's lookups (``/tools/find``, C-FIND) are all mandatory.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from .errors import ErrorCode, OrthancError

__all__ = [
    "DATE_TIME_VRS",
    "LIKE_ESCAPE",
    "ORTHANC_IDENTIFIER_TAGS",
    "WILDCARD_VRS",
    "ConstraintError",
    "ConstraintKind",
    "SearchColumn",
    "SqlHint",
    "TagConstraint",
    "escape_like",
    "fold_case",
    "format_tag",
    "is_orthanc_identifier",
    "normalize_for_search",
    "normalize_identifier",
    "parse_constraint",
    "parse_dicom_constraint",
    "sqlite_lower",
    "wildcard_match",
    "wildcard_to_like",
    "wildcard_to_regex",
]


# --------------------------------------------------------------------------------------------------
# Constants


DATE_TIME_VRS: Final[frozenset[str]] = frozenset({"DA", "DT", "TM"})
"""VRs on which a ``-`` means range matching (DICOM PS3.4 C.2.2.2.5; Orthanc issues 35 and 37)."""

WILDCARD_VRS: Final[frozenset[str]] = frozenset({"AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"})
"""VRs on which ``*``/``?`` are wildcards (PS3.4 C.2.2.2.4; enforced by Orthanc since 1.6.0)."""

ORTHANC_IDENTIFIER_TAGS: Final[frozenset[int]] = frozenset(
    {
        0x00100020,  # PatientID          (patient level)
        0x00100010,  # PatientName        (patient level)
        0x00100030,  # PatientBirthDate   (patient level)
        0x0020000D,  # StudyInstanceUID   (study level)
        0x00080050,  # AccessionNumber    (study level)
        0x00081030,  # StudyDescription   (study level)
        0x00080020,  # StudyDate          (study level)
        0x0020000E,  # SeriesInstanceUID  (series level)
        0x00080018,  # SOPInstanceUID     (instance level)
    }
)
"""Tags Orthanc indexes in its ``DicomIdentifiers`` table (``ServerToolbox::LoadIdentifiers``).

Orthanc looks these up with :func:`normalize_identifier` applied to both sides before running
``DicomTagConstraint::IsMatch``; pass ``is_identifier=True`` to :func:`parse_constraint` for them
(whatever the query level: ``MainDicomTagsRegistry`` keys them by tag alone)."""

LIKE_ESCAPE: Final[str] = "\\"
"""Escape character of the LIKE patterns produced here (``... LIKE ? ESCAPE '\\'``), as Orthanc."""


# --------------------------------------------------------------------------------------------------
# Errors and enumerations


def format_tag(tag: int) -> str:
    """``0x00100010`` → ``"0010,0010"`` (Orthanc's ``DicomTag::Format``)."""
    return f"{(tag >> 16) & 0xFFFF:04x},{tag & 0xFFFF:04x}"


class ConstraintError(OrthancError, ValueError):
    """A query Orthanc refuses: ``ParameterOutOfRange`` (HTTP 400), as ``DicomTagConstraint`` throws."""

    def __init__(self, details: str) -> None:
        super().__init__(ErrorCode.ParameterOutOfRange, details)


class ConstraintKind(enum.Enum):
    """Orthanc's ``ConstraintType``, plus :attr:`RANGE` for a two-sided date/time range.

    Orthanc stores ``lo-hi`` as two constraints (``GreaterOrEqual`` lo and ``SmallerOrEqual`` hi) on
    the same tag; one :attr:`RANGE` constraint is equivalent.
    """

    EQUAL = "Equal"
    SMALLER_OR_EQUAL = "SmallerOrEqual"
    GREATER_OR_EQUAL = "GreaterOrEqual"
    RANGE = "Range"
    WILDCARD = "Wildcard"
    LIST = "List"


class SearchColumn(enum.Enum):
    """Which indexed column an :class:`SqlHint` targets.

    A backend keeps, for each indexed (resource, tag), two columns:

    * :attr:`RAW` — the value exactly as stored (the string :meth:`TagConstraint.matches` receives);
    * :attr:`FOLDED` — :func:`normalize_for_search` of that value (= :func:`fold_case`).

    Case-sensitive constraints target RAW, case-insensitive ones FOLDED (with the query side
    folded the same way), so that the hint is the very comparison Orthanc makes.
    """

    RAW = "raw"
    FOLDED = "folded"


# --------------------------------------------------------------------------------------------------
# String normalisations


@functools.lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    upper = ch.upper()
    if len(upper) == 1:
        return upper
    # Python applies the full (one-to-many) Unicode mapping, e.g. "ß" → "SS"; Orthanc upper-cases
    # one wide character at a time, i.e. with the simple mapping, which for these characters is
    # either the titlecase letter ("ᾳ" → "ᾼ") or the character itself ("ß", "ŉ", "ﬁ").
    title = ch.title()
    if len(title) == 1:
        return title
    return ch


def fold_case(value: str) -> str:
    """Orthanc's ``Toolbox::ToUpperCaseWithAccents``: upper-case every character, one by one.

    This is the key of every case-insensitive comparison (``DicomTagConstraint`` with
    ``caseSensitive == false``). Accents are kept: ``fold_case("josé") == "JOSÉ"``, so ``"josé"``
    matches ``"JOSÉ"`` but not ``"JOSE"``. Characters without a one-character upper case are kept
    (``"straße"`` → ``"STRAßE"``), as the per-character ``std::toupper`` of Orthanc does.
    """
    if value.isascii():
        return value.upper()
    return "".join(_fold_char(ch) for ch in value)


def normalize_for_search(value: str) -> str:
    """Content of the case-insensitive search column (:attr:`SearchColumn.FOLDED`): ``fold_case(value)``.

    Storing exactly the key Orthanc compares case-insensitive constraints on makes every hint of
    :meth:`TagConstraint.sql_hint` on that column an exact (not merely approximate) predicate for
    Equal, List and range constraints, and a sound prefilter for wildcards.
    """
    return fold_case(value)


def normalize_identifier(value: str) -> str:
    """Orthanc's ``ServerToolbox::NormalizeIdentifier`` (the ``DicomIdentifiers`` column content).

    ``%`` and ``_`` become spaces ("might break wildcard queries in SQL"), non-ASCII characters,
    control characters and whitespace other than the space are dropped, ASCII letters are
    upper-cased, and leading/trailing spaces are stripped: ``" jo_sé%1\\t"`` → ``"JO S 1"``.
    """
    out: list[str] = []
    for ch in value:
        if ch == "%" or ch == "_":
            out.append(" ")
        elif " " <= ch <= "~":  # ASCII, not a control character, no whitespace but " "
            out.append(ch)
    return "".join(out).upper().strip(" ")


_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def sqlite_lower(value: str) -> str:
    """SQLite's built-in ``lower()``: ASCII letters only (``"ÉCOLE"`` → ``"École"``)."""
    return value.translate(_ASCII_LOWER)


# --------------------------------------------------------------------------------------------------
# Wildcards


def _is_ascii_char(ch: str) -> bool:
    return ch <= "\x7f"


def wildcard_match(value: str, pattern: str, *, question_mark_any: bool = False) -> bool:
    """Whole-string DICOM wildcard match: ``*`` is any sequence, ``?`` one character, rest literal.

    Linear-memory, O(len(value) × len(pattern)) worst case (no regex backtracking blow-up on long
    LT/UT values). Case is not folded here: fold both arguments first if needed.

    By default ``?`` matches one *ASCII* character only. That is what Orthanc answers: its
    ``DicomTagConstraint`` runs ``boost::regex`` on UTF-8 bytes (``?`` = one byte) and its SQL
    prefilter uses ``LIKE`` (``_`` = one character), so only a one-byte character passes both.
    ``question_mark_any=True`` gives the SQL ``_`` behaviour (one character of any kind).
    """
    v_len = len(value)
    p_len = len(pattern)
    v = p = 0
    star_p = -1
    star_v = 0
    while v < v_len:
        if p < p_len:
            pc = pattern[p]
            if pc == "*":
                star_p = p
                star_v = v
                p += 1
                continue
            ch = value[v]
            if pc == "?":
                ok = question_mark_any or _is_ascii_char(ch)
            else:
                ok = pc == ch
            if ok:
                v += 1
                p += 1
                continue
        if star_p >= 0:
            # Let the last "*" swallow one more character and retry what follows it.
            star_v += 1
            v = star_v
            p = star_p + 1
            continue
        return False
    while p < p_len and pattern[p] == "*":
        p += 1
    return p == p_len


@functools.lru_cache(maxsize=1024)
def wildcard_to_regex(pattern: str, case_sensitive: bool = True) -> re.Pattern[str]:
    """Regex equivalent of a DICOM wildcard (Orthanc's ``Toolbox::WildcardToRegularExpression``).

    Use with ``fullmatch`` on the value, folded with :func:`fold_case` first when
    ``case_sensitive`` is false (the pattern is folded here). ``?`` becomes ``[\\x00-\\x7f]`` (see
    :func:`wildcard_match` for why), ``*`` becomes ``.*`` and ``.`` matches newlines too, as in
    Boost's default Perl syntax. :meth:`TagConstraint.matches` uses :func:`wildcard_match`, which
    gives the same answers without backtracking; this helper is for callers wanting a regex.
    """
    source = pattern if case_sensitive else fold_case(pattern)
    parts: list[str] = []
    for ch in source:
        if ch == "*":
            if not parts or parts[-1] != ".*":
                parts.append(".*")
        elif ch == "?":
            parts.append("[\\x00-\\x7f]")
        else:
            parts.append(re.escape(ch))
    return re.compile("".join(parts), re.DOTALL)


def escape_like(text: str) -> str:
    """Escape ``%``, ``_`` and ``\\`` for a ``LIKE ... ESCAPE '\\'`` pattern (literal text)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def wildcard_to_like(pattern: str) -> str:
    """DICOM wildcard → SQL LIKE pattern for ``ESCAPE '\\'`` (Orthanc's ``ISqlLookupFormatter``).

    ``*`` → ``%``, ``?`` → ``_``, and literal ``%``, ``_``, ``\\`` are escaped with ``\\``.
    """
    out: list[str] = []
    for ch in pattern:
        if ch == "*":
            out.append("%")
        elif ch == "?":
            out.append("_")
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


# --------------------------------------------------------------------------------------------------
# SQL hints


SqlOperator = Literal["=", "<=", ">=", "BETWEEN", "IN", "LIKE"]


@dataclass(frozen=True, slots=True)
class SqlHint:
    """A predicate an SQL backend can evaluate on an indexed column to prefilter candidates.

    ``column <op> values``: ``=``, ``<=``, ``>=`` take one value, ``BETWEEN`` two (inclusive),
    ``IN`` one or more, ``LIKE`` one pattern to be used with ``ESCAPE '\\'`` (:attr:`escape`).

    Guarantees (checked by property tests): whenever :meth:`TagConstraint.matches` accepts a present
    value ``v``, the hint holds on ``v`` (RAW column) or ``normalize_for_search(v)`` (FOLDED
    column) — the prefilter never loses a match. If :attr:`exact` is true, the converse holds too
    and the backend may skip :meth:`~TagConstraint.matches` (useful for ``Limit``/``Since`` and
    counting in SQL, like Orthanc's ``canBeFullyPerformedInDb``).

    Both guarantees assume the backend compares text by code point (SQLite's default ``BINARY``
    collation; ``COLLATE "C"`` in PostgreSQL) and, for :attr:`exact` LIKE hints, evaluates ``LIKE``
    case-sensitively (PostgreSQL ``LIKE``; SQLite with ``PRAGMA case_sensitive_like = ON``).
    SQLite's default, ASCII-case-insensitive ``LIKE`` still gives a sound (inexact) prefilter.

    A missing tag never satisfies the hint; when :attr:`allow_missing` is true (non-mandatory
    constraint) the backend must also accept resources without the tag (``IS NULL``/left join).
    """

    column: SearchColumn
    op: SqlOperator
    values: tuple[str, ...]
    exact: bool
    allow_missing: bool = False
    escape: str | None = None

    def to_sql(self, column_expr: str, param: Callable[[], str] = lambda: "?") -> tuple[str, tuple[str, ...]]:
        """Render as ``(sql_fragment, parameters)``; ``param`` yields placeholders (``"?"``, ``"$3"``…).

        ``column_expr`` is the SQL expression of the targeted column (:attr:`column`). The
        fragment does not handle :attr:`allow_missing`.
        """
        if self.op == "BETWEEN":
            sql = f"{column_expr} BETWEEN {param()} AND {param()}"
        elif self.op == "IN":
            sql = f"{column_expr} IN ({', '.join(param() for _ in self.values)})"
        elif self.op == "LIKE":
            sql = f"{column_expr} LIKE {param()} ESCAPE '{self.escape or LIKE_ESCAPE}'"
        else:
            sql = f"{column_expr} {self.op} {param()}"
        return sql, self.values


# --------------------------------------------------------------------------------------------------
# Constraints


_SINGLE_VALUE_KINDS: Final = frozenset(
    {
        ConstraintKind.EQUAL,
        ConstraintKind.SMALLER_OR_EQUAL,
        ConstraintKind.GREATER_OR_EQUAL,
        ConstraintKind.WILDCARD,
    }
)


@dataclass(frozen=True, slots=True)
class TagConstraint:
    """One constraint on one tag, with the semantics of Orthanc's ``DicomTagConstraint``.

    ``values`` holds the operand(s): one value for Equal, SmallerOrEqual, GreaterOrEqual and
    Wildcard (the pattern), ``(lower, upper)`` for Range, and the items for List (deduplicated and
    sorted, as Orthanc keeps them in a ``std::set``).

    ``case_sensitive`` false compares :func:`fold_case` of both sides. ``mandatory`` false lets a
    resource without the tag match (Orthanc's ``IsMandatory``; every ``/tools/find`` and C-FIND
    constraint is mandatory). ``is_identifier`` adds Orthanc's ``DicomIdentifiers`` prefilter (see
    :data:`ORTHANC_IDENTIFIER_TAGS`, :meth:`matches`); ``is_main_tag`` adds the prefilter of
    Orthanc's built-in SQLite index on other main DICOM tags (ignored for identifiers).

    Like Orthanc's constructor (``AssignSingleValue``), a ``*`` or ``?`` in the operand of a
    non-wildcard, non-list constraint raises :class:`ConstraintError`.
    """

    tag: int
    kind: ConstraintKind
    values: tuple[str, ...]
    case_sensitive: bool
    mandatory: bool = True
    is_identifier: bool = False
    is_main_tag: bool = False
    # Precomputed comparison keys (fold_case'd when case-insensitive) and identifier keys.
    _keys: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _key_set: frozenset[str] = field(init=False, repr=False, compare=False)
    _id_keys: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _sqlite_keys: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.tag <= 0xFFFFFFFF:
            raise ConstraintError(f"Invalid DICOM tag: {self.tag!r}")
        values = tuple(self.values)
        if not all(isinstance(v, str) for v in values):
            raise ConstraintError("Constraint values must be strings")
        kind = self.kind
        if kind in _SINGLE_VALUE_KINDS:
            if len(values) != 1:
                raise ConstraintError(f"A {kind.value} constraint takes exactly one value")
        elif kind is ConstraintKind.RANGE:
            if len(values) != 2:
                raise ConstraintError("A Range constraint takes exactly two values (lower, upper)")
        else:
            if not values:
                raise ConstraintError("A List constraint takes at least one value")
            values = tuple(sorted(set(values)))
        if kind is not ConstraintKind.WILDCARD and kind is not ConstraintKind.LIST:
            for v in values:
                if "*" in v or "?" in v:
                    raise ConstraintError(f"Wildcards are not allowed on tag {format_tag(self.tag)}")
        keys = values if self.case_sensitive else tuple(fold_case(v) for v in values)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "_keys", keys)
        object.__setattr__(self, "_key_set", frozenset(keys))
        object.__setattr__(self, "_id_keys", tuple(normalize_identifier(v) for v in values))
        object.__setattr__(self, "_sqlite_keys", tuple(sqlite_lower(v) for v in values))

    # -- accessors ---------------------------------------------------------------------------------

    @property
    def value(self) -> str:
        """The single operand (Equal, SmallerOrEqual, GreaterOrEqual, Wildcard); ValueError otherwise."""
        if self.kind not in _SINGLE_VALUE_KINDS:
            raise ValueError(f"A {self.kind.value} constraint has no single value")
        return self.values[0]

    @property
    def lower(self) -> str | None:
        """Inclusive lower bound of Range/GreaterOrEqual, else None."""
        if self.kind is ConstraintKind.RANGE or self.kind is ConstraintKind.GREATER_OR_EQUAL:
            return self.values[0]
        return None

    @property
    def upper(self) -> str | None:
        """Inclusive upper bound of Range/SmallerOrEqual, else None."""
        if self.kind is ConstraintKind.RANGE:
            return self.values[1]
        if self.kind is ConstraintKind.SMALLER_OR_EQUAL:
            return self.values[0]
        return None

    @property
    def is_universal(self) -> bool:
        """True for the wildcard ``*``: matches every present value (a missing tag only if optional)."""
        return self.kind is ConstraintKind.WILDCARD and set(self.values[0]) == {"*"}

    def __str__(self) -> str:
        """Orthanc's ``DicomTagConstraint::Format`` style, e.g. ``0010,0010 ~~ *Doe*``."""
        t = format_tag(self.tag)
        kind = self.kind
        if kind is ConstraintKind.EQUAL:
            return f"{t} == {self.values[0]}"
        if kind is ConstraintKind.SMALLER_OR_EQUAL:
            return f"{t} <= {self.values[0]}"
        if kind is ConstraintKind.GREATER_OR_EQUAL:
            return f"{t} >= {self.values[0]}"
        if kind is ConstraintKind.RANGE:
            return f"{self.values[0]} <= {t} <= {self.values[1]}"
        if kind is ConstraintKind.WILDCARD:
            return f"{t} ~~ {self.values[0]}"
        return f"{t} IN [ {', '.join(self.values)} ]"

    # -- matching ----------------------------------------------------------------------------------

    def matches(self, value: str | None) -> bool:
        """Whether a resource whose tag holds ``value`` (``None`` = tag absent) satisfies Orthanc.

        * ``None`` (tag missing, or null): ``not mandatory`` (``DicomTagConstraint::IsMatch(DicomMap)``).
          Pass ``""`` for a tag that is present but empty: it is a value like any other.
        * Otherwise ``DicomTagConstraint::IsMatch(value)``: Equal/List compare whole strings,
          SmallerOrEqual/GreaterOrEqual/Range compare strings by code point (= UTF-8 byte order,
          as ``std::string``), Wildcard matches the whole string (see :func:`wildcard_match`);
          case-insensitive constraints compare :func:`fold_case` of both sides.
        * If ``is_identifier``: additionally, the ``DicomIdentifiers`` prefilter of Orthanc's SQL
          lookup must hold on :func:`normalize_identifier` of both sides (Equal/List/bounds compared
          exactly, wildcards as SQL LIKE with ``?`` = any character). This only changes answers in
          corner cases, e.g. PatientID ``"A_"`` does not match the wildcard ``"A?"`` in Orthanc
          (``"A"`` NOT LIKE ``'A_'``) though ``"AB"`` does.
        * Else if ``is_main_tag`` and the constraint is case-insensitive: additionally, Orthanc's
          SQLite prefilter ``lower(value) <op> lower(?)`` must hold with SQLite's ASCII-only
          ``lower()`` (:func:`sqlite_lower`): ``"réé"`` matches ``"RÉÉ"`` only without this flag.
          (Case-sensitive main-tag prefilters never reject what ``IsMatch`` accepts.)
        """
        if value is None:
            return not self.mandatory
        if not self._match_value(value if self.case_sensitive else fold_case(value)):
            return False
        if self.is_identifier:
            return self._match_index(normalize_identifier(value), self._id_keys)
        if self.is_main_tag and not self.case_sensitive:
            return self._match_index(sqlite_lower(value), self._sqlite_keys)
        return True

    def _match_value(self, key: str) -> bool:
        kind = self.kind
        keys = self._keys
        if kind is ConstraintKind.EQUAL:
            return key == keys[0]
        if kind is ConstraintKind.LIST:
            return key in self._key_set
        if kind is ConstraintKind.WILDCARD:
            return wildcard_match(key, keys[0])
        if kind is ConstraintKind.RANGE:
            return keys[0] <= key <= keys[1]
        if kind is ConstraintKind.GREATER_OR_EQUAL:
            return key >= keys[0]
        return key <= keys[0]  # SMALLER_OR_EQUAL

    def _match_index(self, key: str, keys: tuple[str, ...]) -> bool:
        # ISqlLookupFormatter's predicate, on keys normalized for the index being emulated:
        # normalize_identifier (DicomIdentifiers) or sqlite_lower (case-insensitive MainDicomTags).
        kind = self.kind
        if kind is ConstraintKind.EQUAL:
            return key == keys[0]
        if kind is ConstraintKind.LIST:
            return key in keys
        if kind is ConstraintKind.WILDCARD:
            # LIKE with "*" → "%", "?" → "_" (literal "%", "_" escaped). A lone "*" only checks
            # presence. SQLite's LIKE folds ASCII case, which the keys already do.
            return keys[0] == "*" or wildcard_match(key, keys[0], question_mark_any=True)
        if kind is ConstraintKind.RANGE:
            return keys[0] <= key <= keys[1]
        if kind is ConstraintKind.GREATER_OR_EQUAL:
            return key >= keys[0]
        return key <= keys[0]

    # -- SQL ---------------------------------------------------------------------------------------

    def sql_hint(self) -> SqlHint:
        """A predicate on an indexed column that every matching value satisfies (see :class:`SqlHint`).

        * Case-sensitive constraints target :attr:`SearchColumn.RAW` with the raw operands,
          case-insensitive ones :attr:`SearchColumn.FOLDED` with ``normalize_for_search`` operands.
        * Equal → ``=``; SmallerOrEqual → ``<=``; GreaterOrEqual → ``>=``; Range → ``BETWEEN lo
          AND hi``; List → ``IN (...)``; Wildcard → ``LIKE`` (:func:`wildcard_to_like`, ``ESCAPE
          '\\'``); the universal ``*`` gives ``LIKE '%'`` (present, any value).
        * ``exact`` is false for identifier constraints and case-insensitive ``is_main_tag`` ones
          (the emulated Orthanc index prefilter of :meth:`matches` is not expressed), and for
          wildcards containing ``?`` (SQL ``_`` also accepts non-ASCII characters).
        """
        column = SearchColumn.RAW if self.case_sensitive else SearchColumn.FOLDED
        keys = self._keys
        exact = not self.is_identifier and not (self.is_main_tag and not self.case_sensitive)
        allow_missing = not self.mandatory
        kind = self.kind
        if kind is ConstraintKind.EQUAL:
            return SqlHint(column, "=", keys, exact, allow_missing)
        if kind is ConstraintKind.SMALLER_OR_EQUAL:
            return SqlHint(column, "<=", keys, exact, allow_missing)
        if kind is ConstraintKind.GREATER_OR_EQUAL:
            return SqlHint(column, ">=", keys, exact, allow_missing)
        if kind is ConstraintKind.RANGE:
            return SqlHint(column, "BETWEEN", keys, exact, allow_missing)
        if kind is ConstraintKind.LIST:
            return SqlHint(column, "IN", tuple(sorted(self._key_set)), exact, allow_missing)
        pattern = keys[0]
        return SqlHint(
            column,
            "LIKE",
            (wildcard_to_like(pattern),),
            exact and "?" not in pattern,
            allow_missing,
            LIKE_ESCAPE,
        )


# --------------------------------------------------------------------------------------------------
# Parsing query strings


def is_orthanc_identifier(tag: int) -> bool:
    """Whether Orthanc indexes ``tag`` in ``DicomIdentifiers`` (:data:`ORTHANC_IDENTIFIER_TAGS`)."""
    return tag in ORTHANC_IDENTIFIER_TAGS


def _normalize_vr(vr: str) -> str:
    return vr.strip().upper()


def parse_constraint(
    tag: int,
    vr: str,
    query_value: str,
    case_sensitive: bool,
    *,
    is_identifier: bool = False,
    is_main_tag: bool = False,
    mandatory: bool = True,
) -> TagConstraint | None:
    """Orthanc's ``DatabaseLookup::AddRestConstraint`` (``/tools/find``; QIDO-RS goes through it too).

    Returns None for universal matching (empty string, or a lone ``-`` on DA/DT/TM), otherwise the
    constraint built by the rules of the module docstring. ``case_sensitive`` applies to every VR,
    as in Orthanc's ``/tools/find`` (its ``CaseSensitive`` field, default **false**); the PN-only
    rule of DICOM is :func:`parse_dicom_constraint`. ``vr`` is the tag's dictionary VR (``"DA"``,
    ``"PN"``, …; anything else, e.g. ``"UN"`` or ``"US or SS"``, is neither a date nor a wildcard
    VR). ``is_identifier``/``is_main_tag`` select which Orthanc index prefilter to reproduce (see
    :class:`TagConstraint`): pass ``is_orthanc_identifier(tag)`` and, to answer exactly like Orthanc
    with its default SQLite index, whether the tag is a main DICOM tag stored in the index.
    Raises :class:`ConstraintError` where Orthanc raises ``ParameterOutOfRange``.
    """
    if query_value == "":
        return None
    vr = _normalize_vr(vr)

    def make(kind: ConstraintKind, values: Iterable[str]) -> TagConstraint:
        return TagConstraint(tag, kind, tuple(values), case_sensitive, mandatory, is_identifier, is_main_tag)

    if vr in DATE_TIME_VRS and "-" in query_value:
        lower, _, upper = query_value.partition("-")
        if lower and upper:
            return make(ConstraintKind.RANGE, (lower, upper))
        if lower:
            return make(ConstraintKind.GREATER_OR_EQUAL, (lower,))
        if upper:
            return make(ConstraintKind.SMALLER_OR_EQUAL, (upper,))
        return None
    if "\\" in query_value:
        return make(ConstraintKind.LIST, query_value.split("\\"))
    if vr in WILDCARD_VRS and ("*" in query_value or "?" in query_value):
        return make(ConstraintKind.WILDCARD, (query_value,))
    return make(ConstraintKind.EQUAL, (query_value,))


def parse_dicom_constraint(
    tag: int,
    vr: str,
    query_value: str,
    case_sensitive_pn: bool,
    *,
    is_identifier: bool = False,
    is_main_tag: bool = False,
    mandatory: bool = True,
) -> TagConstraint | None:
    """Orthanc's ``DatabaseLookup::AddDicomConstraint`` (C-FIND SCP).

    Matching is case-sensitive except for PN, which uses ``case_sensitive_pn`` (Orthanc's
    ``CaseSensitivePN`` option, default false) — DICOM PS3.4 C.2.2.2.1. A sequence (SQ) is refused.
    Otherwise identical to :func:`parse_constraint`.
    """
    vr = _normalize_vr(vr)
    if vr == "SQ":
        raise ConstraintError(f"Cannot match on the sequence {format_tag(tag)}")
    case_sensitive = case_sensitive_pn if vr == "PN" else True
    return parse_constraint(
        tag,
        vr,
        query_value,
        case_sensitive,
        is_identifier=is_identifier,
        is_main_tag=is_main_tag,
        mandatory=mandatory,
    )
