"""The index: Orthanc's database of resources, tags, metadata, attachments and changes.

One async interface, modelled on Orthanc's ``IDatabaseWrapper``: the core opens a transaction and
calls coarse operations on it (``create_instance`` creates the missing parents atomically, as
Orthanc's own ``CreateInstance`` does), so a SQL server can run many of them concurrently and no
node keeps a private copy of index state. The SQLite backend is built in; PostgreSQL and MySQL
implement the same protocol beside it.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Protocol

from ..core.identifiers import InstanceIdentifiers, ResourceLevel


@dataclass(frozen=True, slots=True)
class ResourceRow:
    internal_id: int
    level: ResourceLevel
    public_id: str
    parent_id: int | None


@dataclass(frozen=True, slots=True)
class Attachment:
    content_type: int
    uuid: str
    compressed_size: int
    uncompressed_size: int
    compression: int  # 1 = none, 2 = zlib with size prefix (Orthanc's CompressionType)
    uncompressed_md5: str
    compressed_md5: str
    revision: int = 0


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    change_type: int
    level: ResourceLevel
    public_id: str
    date: str


@dataclass(slots=True)
class CreatedInstance:
    """What ``create_instance`` did: the internal IDs of the four levels and which are new."""

    is_new_instance: bool
    instance_id: int
    series_id: int
    study_id: int
    patient_id: int
    created: list[ResourceLevel] = field(default_factory=list)


@dataclass(slots=True)
class Deletion:
    """What ``delete_resource`` removed: the files to delete and the first ancestor left standing."""

    attachments: list[Attachment]
    deleted: list[ResourceRow]
    remaining_ancestor: ResourceRow | None


@dataclass(frozen=True, slots=True)
class TagFilter:
    """A prefilter for ``find``: the tag held at ``level``, compared with an SQL predicate.

    ``operator`` is one of ``=``, ``IN``, ``LIKE``, ``BETWEEN``, ``<=``, ``>=``; ``column`` is ``value``
    (raw, case-sensitive) or ``normalized`` (upper case without accents). The core re-checks every
    candidate with the exact DICOM matching rules, so a filter may only be looser, never stricter.
    """

    level: ResourceLevel
    tag: int
    operator: str
    column: str
    arguments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LabelFilter:
    """``Labels`` of ``/tools/find``: resources with ``All``, ``Any`` or ``None`` of these labels."""

    labels: tuple[str, ...]
    constraint: str = "All"


@dataclass(frozen=True, slots=True)
class SizeTotals:
    disk_size: int = 0
    uncompressed_size: int = 0
    dicom_disk_size: int = 0
    dicom_uncompressed_size: int = 0


class Transaction(Protocol):
    # --- resources
    async def lookup(self, public_id: str) -> ResourceRow | None: ...
    async def get_resources(self, internal_ids: list[int]) -> list[ResourceRow]: ...
    async def list_resources(
        self, level: ResourceLevel, since: int = 0, limit: int = 0
    ) -> list[ResourceRow]: ...
    async def list_public_ids(self, level: ResourceLevel, since: int = 0, limit: int = 0) -> list[str]: ...
    async def count_resources(self, level: ResourceLevel) -> int: ...
    async def get_children(self, parent_ids: list[int]) -> list[ResourceRow]: ...
    async def get_child_public_ids(self, parent_ids: list[int]) -> dict[int, list[str]]: ...
    async def get_children_metadata(
        self, parent_ids: list[int], metadata_type: int
    ) -> dict[int, list[str | None]]: ...
    async def create_instance(self, ids: InstanceIdentifiers) -> CreatedInstance: ...
    async def delete_resource(self, internal_id: int) -> Deletion: ...
    async def lookup_identifier(self, level: ResourceLevel, tag: int, value: str) -> list[ResourceRow]: ...
    async def find(
        self,
        level: ResourceLevel,
        filters: list[TagFilter],
        since: int = 0,
        limit: int = 0,
        labels: LabelFilter | None = None,
    ) -> list[ResourceRow]: ...

    # --- main DICOM tags: (internal_id, tag, value)
    async def set_main_tags(self, rows: list[tuple[int, int, str]]) -> None: ...
    async def get_main_tags(
        self, internal_ids: list[int], tags: list[int] | None = None
    ) -> dict[int, dict[int, str]]: ...

    # --- metadata: (internal_id, type, value)
    async def set_metadata(self, rows: list[tuple[int, int, str]]) -> None: ...
    async def delete_metadata(self, internal_id: int, metadata_type: int) -> bool: ...
    async def get_metadata(
        self, internal_ids: list[int], types: list[int] | None = None
    ) -> dict[int, dict[int, str]]: ...

    # --- attachments
    async def add_attachment(self, internal_id: int, attachment: Attachment) -> None: ...
    async def get_attachments(self, internal_ids: list[int]) -> dict[int, list[Attachment]]: ...
    async def size_totals(self, internal_ids: list[int] | None) -> SizeTotals: ...

    # --- change log; the sequence number comes from the index, shared by every node
    async def log_changes(self, rows: list[tuple[int, int, ResourceLevel, str]]) -> None: ...
    async def get_changes(self, since: int, limit: int) -> tuple[list[Change], bool, int]: ...
    async def get_last_change(self) -> Change | None: ...
    async def has_change_since(self, internal_id: int, change_type: int, date: str) -> bool: ...
    async def get_last_change_seq(self) -> int: ...
    async def clear_changes(self) -> None: ...

    # --- patient protection against recycling, and the recycling order
    async def is_protected(self, patient_id: int) -> bool: ...
    async def set_protected(self, patient_id: int, protected: bool) -> None: ...
    async def touch_patient(self, patient_id: int) -> None: ...
    async def oldest_recyclable_patient(self, excluded_patient_id: int | None) -> int | None: ...

    # --- labels
    async def add_label(self, internal_id: int, label: str) -> None: ...
    async def remove_label(self, internal_id: int, label: str) -> None: ...
    async def get_labels(self, internal_ids: list[int]) -> dict[int, list[str]]: ...
    async def all_labels(self) -> list[str]: ...

    # --- files written to the storage area whose index transaction has not committed yet
    async def add_pending_files(self, uuids: list[str]) -> None: ...
    async def remove_pending_files(self, uuids: list[str]) -> None: ...
    async def list_pending_files(self) -> list[str]: ...

    # --- global properties
    async def get_global_property(self, key: int) -> str | None: ...
    async def set_global_property(self, key: int, value: str) -> None: ...


class Index(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    def transaction(self, *, write: bool = False) -> AbstractAsyncContextManager[Transaction]: ...
    @property
    def database_version(self) -> int: ...
