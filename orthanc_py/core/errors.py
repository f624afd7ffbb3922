"""One error type for the whole server, carrying Orthanc's error code and HTTP status.

Front ends turn it into their own shape in exactly one place each: the REST API into Orthanc's JSON
error body (``rest/errors.py``), DICOM into a DIMSE status.
"""

from __future__ import annotations

from enum import IntEnum


class ErrorCode(IntEnum):
    """Orthanc's ``ErrorCode`` values (OrthancFramework/Sources/Enumerations.h)."""

    InternalError = -1
    Success = 0
    Plugin = 1
    NotImplemented = 2
    ParameterOutOfRange = 3
    NotEnoughMemory = 4
    BadParameterType = 5
    BadSequenceOfCalls = 6
    InexistentItem = 7
    BadRequest = 8
    NetworkProtocol = 9
    SystemCommand = 10
    Database = 11
    UriSyntax = 12
    InexistentFile = 13
    CannotWriteFile = 14
    BadFileFormat = 15
    Timeout = 16
    UnknownResource = 17
    IncompatibleDatabaseVersion = 18
    FullStorage = 19
    CorruptedFile = 20
    InexistentTag = 21
    ReadOnly = 22
    IncompatibleImageFormat = 23
    IncompatibleImageSize = 24
    SharedLibrary = 25
    UnknownPluginService = 26
    UnknownDicomTag = 27
    BadJson = 28
    Unauthorized = 29
    BadFont = 30
    DatabasePlugin = 31
    StorageAreaPlugin = 32
    EmptyRequest = 33
    NotAcceptable = 34
    NullPointer = 35
    DatabaseUnavailable = 36
    CanceledJob = 37
    BadGeometry = 38
    SslInitialization = 39
    DiscontinuedAbi = 40
    BadRange = 41
    DatabaseCannotSerialize = 42
    Revision = 43
    MainDicomTagsMultiplyDefined = 44
    ForbiddenAccess = 45
    DuplicateResource = 46
    IncompatibleConfigurations = 47


# Orthanc's textual description of each code (EnumerationToString(ErrorCode)).
ERROR_DESCRIPTIONS: dict[ErrorCode, str] = {
    ErrorCode.InternalError: "Internal error",
    ErrorCode.Success: "Success",
    ErrorCode.Plugin: "Error encountered within the plugin engine",
    ErrorCode.NotImplemented: "Not implemented yet",
    ErrorCode.ParameterOutOfRange: "Parameter out of range",
    ErrorCode.NotEnoughMemory: "The server hosting Orthanc is running out of memory",
    ErrorCode.BadParameterType: "Bad type for a parameter",
    ErrorCode.BadSequenceOfCalls: "Bad sequence of calls",
    ErrorCode.InexistentItem: "Accessing an inexistent item",
    ErrorCode.BadRequest: "Bad request",
    ErrorCode.NetworkProtocol: "Error in the network protocol",
    ErrorCode.SystemCommand: "Error while calling a system command",
    ErrorCode.Database: "Error with the database engine",
    ErrorCode.UriSyntax: "Badly formatted URI",
    ErrorCode.InexistentFile: "Inexistent file",
    ErrorCode.CannotWriteFile: "Cannot write to file",
    ErrorCode.BadFileFormat: "Bad file format",
    ErrorCode.Timeout: "Timeout",
    ErrorCode.UnknownResource: "Unknown resource",
    ErrorCode.IncompatibleDatabaseVersion: "Incompatible version of the database",
    ErrorCode.FullStorage: "The file storage is full",
    ErrorCode.CorruptedFile: "Corrupted file (e.g. inconsistent MD5 hash)",
    ErrorCode.InexistentTag: "Inexistent tag",
    ErrorCode.ReadOnly: "Cannot modify a read-only data structure",
    ErrorCode.IncompatibleImageFormat: "Incompatible format of the images",
    ErrorCode.IncompatibleImageSize: "Incompatible size of the images",
    ErrorCode.SharedLibrary: "Error while using a shared library (plugin)",
    ErrorCode.UnknownPluginService: "Plugin invoking an unknown service",
    ErrorCode.UnknownDicomTag: "Unknown DICOM tag",
    ErrorCode.BadJson: "Cannot parse a JSON document",
    ErrorCode.Unauthorized: "Bad credentials were provided to an HTTP request",
    ErrorCode.BadFont: "Badly formatted font file",
    ErrorCode.DatabasePlugin: "The plugin implementing a custom database back-end does not fulfill the proper interface",
    ErrorCode.StorageAreaPlugin: "Error in the plugin implementing a custom storage area",
    ErrorCode.EmptyRequest: "The request is empty",
    ErrorCode.NotAcceptable: "Cannot send a response which is acceptable according to the Accept HTTP header",
    ErrorCode.NullPointer: "Cannot handle a NULL pointer",
    ErrorCode.DatabaseUnavailable: "The database is currently not available (probably a transient situation)",
    ErrorCode.CanceledJob: "This job was canceled",
    ErrorCode.BadGeometry: "Geometry error encountered in Stone",
    ErrorCode.SslInitialization: "Cannot initialize SSL encryption, check out your certificates",
    ErrorCode.DiscontinuedAbi: "Calling a function that has been removed from the Orthanc Framework",
    ErrorCode.BadRange: "Incorrect range request",
    ErrorCode.DatabaseCannotSerialize: "Database could not serialize access due to concurrent update, the transaction should be retried",
    ErrorCode.Revision: "A bad revision number was provided, which might indicate conflict between multiple writers",
    ErrorCode.MainDicomTagsMultiplyDefined: "A main DICOM Tag has been defined multiple times for the same resource level",
    ErrorCode.ForbiddenAccess: "Access to a resource is forbidden",
    ErrorCode.DuplicateResource: "Duplicate resource",
    ErrorCode.IncompatibleConfigurations: "Your configuration file contains configuration that are mutually incompatible",
}

# The HTTP status Orthanc answers for each code (ConvertErrorCodeToHttpStatus); others are 500.
_HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.Success: 200,
    ErrorCode.ParameterOutOfRange: 400,
    ErrorCode.BadParameterType: 400,
    ErrorCode.InexistentItem: 404,
    ErrorCode.BadRequest: 400,
    ErrorCode.UriSyntax: 400,
    ErrorCode.InexistentFile: 404,
    ErrorCode.BadFileFormat: 400,
    ErrorCode.UnknownResource: 404,
    ErrorCode.InexistentTag: 404,
    ErrorCode.BadJson: 400,
    ErrorCode.Unauthorized: 401,
    ErrorCode.NotAcceptable: 406,
    ErrorCode.BadRange: 416,
    ErrorCode.DatabaseCannotSerialize: 503,
    ErrorCode.DatabaseUnavailable: 503,
    ErrorCode.Revision: 409,
    ErrorCode.ForbiddenAccess: 403,
    ErrorCode.DuplicateResource: 409,
    ErrorCode.NotImplemented: 501,
    ErrorCode.CorruptedFile: 500,
    ErrorCode.FullStorage: 507,
}


def http_status_of(code: ErrorCode) -> int:
    return _HTTP_STATUS.get(code, 500)


class OrthancError(Exception):
    """An error with Orthanc's code, its HTTP status and a message for the client."""

    def __init__(
        self,
        code: ErrorCode,
        details: str | None = None,
        *,
        http_status: int | None = None,
        message: str | None = None,
    ) -> None:
        self.code = code
        self.http_status = http_status if http_status is not None else http_status_of(code)
        self.message = message or ERROR_DESCRIPTIONS.get(code, code.name)
        self.details = details
        super().__init__(details or self.message)
