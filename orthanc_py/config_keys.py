"""The configuration keys: those orthanc_py honours (with their ``Settings`` field, type and one
line of documentation), where each goes in ``orthanc.json.example``, and every key of Orthanc and
of its official plugins (to spell environment variables right and to tell an Orthanc option we do
not implement from a typo). Data only; ``config.py`` reads configurations with it."""

from __future__ import annotations

from typing import Any

# Orthanc key -> (Settings field, expected Python type). The keys orthanc_py honours: adding one here
# needs a Settings field, a line in KEY_DOCS and a place in _SAMPLE_LAYOUT (a test checks all three,
# and that orthanc.json.example was regenerated).
KEYS: dict[str, tuple[str, type]] = {
    "Name": ("name", str),
    "StorageDirectory": ("storage_directory", str),
    "IndexDirectory": ("index_directory", str),
    "StorageCompression": ("storage_compression", bool),
    "OverwriteInstances": ("overwrite_instances", bool),
    "HttpPort": ("http_port", int),
    "DicomPort": ("dicom_port", int),
    "DicomAet": ("dicom_aet", str),
    "RemoteAccessAllowed": ("remote_access_allowed", bool),
    "AuthenticationEnabled": ("authentication_enabled", bool),
    "RegisteredUsers": ("registered_users", dict),
    "DefaultEncoding": ("default_encoding", str),
    "CaseSensitivePN": ("case_sensitive_pn", bool),
    "LimitFindResults": ("limit_find_results", int),
    "LimitFindInstances": ("limit_find_instances", int),
    "StoreMD5ForAttachments": ("store_md5_for_attachments", bool),
    "HttpDescribeErrors": ("http_describe_errors", bool),
    "MaximumStorageSize": ("maximum_storage_size", int),
    "MaximumPatientCount": ("maximum_patient_count", int),
    "MaximumStorageMode": ("maximum_storage_mode", str),
    "ReadOnly": ("read_only", bool),
    "SyncStorageArea": ("sync_storage_area", bool),
    "HttpProcesses": ("http_processes", int),
    "StableAge": ("stable_age", int),
    "DicomServerEnabled": ("dicom_server_enabled", bool),
    "DicomCheckCalledAet": ("dicom_check_called_aet", bool),
    "DicomAlwaysAllowEcho": ("dicom_always_allow_echo", bool),
    "DicomAlwaysAllowStore": ("dicom_always_allow_store", bool),
    "DicomAlwaysAllowFind": ("dicom_always_allow_find", bool),
    "DicomAlwaysAllowFindWorklist": ("dicom_always_allow_find_worklist", bool),
    "DicomAlwaysAllowGet": ("dicom_always_allow_get", bool),
    "DicomAlwaysAllowMove": ("dicom_always_allow_move", bool),
    "DicomCheckModalityHost": ("dicom_check_modality_host", bool),
    "UnknownSopClassAccepted": ("unknown_sop_class_accepted", bool),
    "AcceptedTransferSyntaxes": ("accepted_transfer_syntaxes", list),
    "DeflatedTransferSyntaxAccepted": ("deflated_transfer_syntax_accepted", bool),
    "JpegTransferSyntaxAccepted": ("jpeg_transfer_syntax_accepted", bool),
    "Jpeg2000TransferSyntaxAccepted": ("jpeg2000_transfer_syntax_accepted", bool),
    "JpegLosslessTransferSyntaxAccepted": ("jpeg_lossless_transfer_syntax_accepted", bool),
    "JpipTransferSyntaxAccepted": ("jpip_transfer_syntax_accepted", bool),
    "Mpeg2TransferSyntaxAccepted": ("mpeg2_transfer_syntax_accepted", bool),
    "Mpeg4TransferSyntaxAccepted": ("mpeg4_transfer_syntax_accepted", bool),
    "H265TransferSyntaxAccepted": ("h265_transfer_syntax_accepted", bool),
    "RleTransferSyntaxAccepted": ("rle_transfer_syntax_accepted", bool),
    "DicomScpTimeout": ("dicom_scp_timeout", int),
    "MaximumPduLength": ("maximum_pdu_length", int),
    "TcpNoDelay": ("tcp_no_delay", bool),
    "StrictAetComparison": ("strict_aet_comparison", bool),
    "DicomEchoChecksFind": ("dicom_echo_checks_find", bool),
    "DicomScuTimeout": ("dicom_scu_timeout", int),
    "DicomAssociationCloseDelay": ("dicom_association_close_delay", int),
    "SynchronousCMove": ("synchronous_cmove", bool),
    "QueryRetrieveSize": ("query_retrieve_size", int),
    "StorageCommitmentReportsSize": ("storage_commitment_reports_size", int),
    "DicomDefaultRetrieveMethod": ("dicom_default_retrieve_method", str),
    "DicomModalities": ("dicom_modalities", dict),
    "DicomModalitiesInDatabase": ("dicom_modalities_in_database", bool),
    "OrthancPeers": ("orthanc_peers", dict),
    "OrthancPeersInDatabase": ("orthanc_peers_in_database", bool),
    "HttpTimeout": ("http_timeout", int),
    "HttpsVerifyPeers": ("https_verify_peers", bool),
    "LogExportedResources": ("log_exported_resources", bool),
    "ConcurrentJobs": ("concurrent_jobs", int),
    "JobsHistorySize": ("jobs_history_size", int),
    "SaveJobs": ("save_jobs", bool),
    "DicomWeb": ("dicom_web", dict),
}

# One line of documentation per honoured key: the comment above the key in orthanc.json.example.
KEY_DOCS: dict[str, str] = {
    "Name": "Logical name of this server, shown in Orthanc Explorer and at /system",
    "StorageDirectory": "Folder of the DICOM files (and of the SQLite index), relative to this file's folder",
    "IndexDirectory": "Folder of the SQLite index; when unset, StorageDirectory is used",
    "StorageCompression": "Store new attachments zlib-compressed (Orthanc's format, readable by Orthanc)",
    "OverwriteInstances": "Whether a received instance replaces a stored one with the same SOPInstanceUID",
    "HttpPort": "TCP port of the HTTP server (REST API and web interface)",
    "DicomPort": "TCP port of the DICOM server",
    "DicomAet": "DICOM Application Entity Title of this server (at most 16 characters)",
    "RemoteAccessAllowed": "Whether hosts other than localhost may connect to the HTTP server",
    "AuthenticationEnabled": "HTTP Basic authentication; if unset, same as RemoteAccessAllowed (Orthanc)",
    "RegisteredUsers": 'HTTP users, as { "alice" : "alicePassword" } (plain text, as in Orthanc)',
    "DefaultEncoding": "Character set of DICOM files without SpecificCharacterSet (Utf8, Latin1, Ascii...)",
    "CaseSensitivePN": "Whether C-FIND and /tools/find match person names (PN) case-sensitively",
    "LimitFindResults": "Maximum number of patients/studies/series in one find answer (0 = no limit)",
    "LimitFindInstances": "Maximum number of instances in one find answer (0 = no limit)",
    "StoreMD5ForAttachments": "Store the MD5 of each attachment, to detect corruption of the disk",
    "HttpDescribeErrors": "Put a JSON description of the error in the body of failed REST calls",
    "MaximumStorageSize": "Maximum size of the storage in MB, oldest patients recycled first (0 = no limit)",
    "MaximumPatientCount": "Maximum number of patients, oldest recycled first (0 = no limit)",
    "ReadOnly": "Serve the existing index and storage without ever writing to them",
    "SyncStorageArea": "fsync() each stored file before acknowledging it (slower, safe on power loss)",
    "HttpProcesses": "orthanc_py only: HTTP worker processes (0 = one per core, at most 4; 1 = just one)",
    "MaximumStorageMode": 'When full: "Recycle" the oldest unprotected patients, or "Reject" new ones',
    "StableAge": "Seconds without a new instance before a patient, study or series becomes stable",
    "DicomServerEnabled": "Whether the DICOM server (C-ECHO/STORE/FIND/MOVE/GET SCP) listens on DicomPort",
    "DicomCheckCalledAet": "Refuse associations whose called AET is not DicomAet",
    "DicomAlwaysAllowEcho": "Answer C-ECHO from any AET, even one not in DicomModalities",
    "DicomAlwaysAllowStore": "Accept C-STORE from any AET, even one not in DicomModalities",
    "DicomAlwaysAllowFind": "Answer C-FIND from any AET, even one not in DicomModalities",
    "DicomAlwaysAllowFindWorklist": "Answer worklist C-FIND from any AET, even one not in DicomModalities",
    "DicomAlwaysAllowGet": "Answer C-GET from any AET, even one not in DicomModalities",
    "DicomAlwaysAllowMove": "Answer C-MOVE from any AET, even one not in DicomModalities",
    "DicomCheckModalityHost": "Also check that a known calling AET connects from the host configured for it",
    "UnknownSopClassAccepted": "Accept C-STORE of SOP classes that are not storage classes of the standard",
    "AcceptedTransferSyntaxes": "Transfer syntaxes the DICOM server accepts (UIDs, * and ? wildcards)",
    "DeflatedTransferSyntaxAccepted": "Accept the deflated transfer syntax (if no AcceptedTransferSyntaxes)",
    "JpegTransferSyntaxAccepted": "Accept the JPEG transfer syntaxes (if no AcceptedTransferSyntaxes)",
    "Jpeg2000TransferSyntaxAccepted": "Accept JPEG 2000 (if no AcceptedTransferSyntaxes)",
    "JpegLosslessTransferSyntaxAccepted": "Accept JPEG-LS (if no AcceptedTransferSyntaxes)",
    "JpipTransferSyntaxAccepted": "Accept the JPIP transfer syntaxes (if no AcceptedTransferSyntaxes)",
    "Mpeg2TransferSyntaxAccepted": "Accept the MPEG-2 transfer syntaxes (if no AcceptedTransferSyntaxes)",
    "Mpeg4TransferSyntaxAccepted": "Accept the MPEG-4 transfer syntaxes (if no AcceptedTransferSyntaxes)",
    "H265TransferSyntaxAccepted": "Accept the HEVC/H.265 transfer syntaxes (if no AcceptedTransferSyntaxes)",
    "RleTransferSyntaxAccepted": "Accept the RLE transfer syntax (if no AcceptedTransferSyntaxes)",
    "DicomScpTimeout": "Seconds of inactivity before the DICOM server closes an association",
    "MaximumPduLength": "Maximum PDU length proposed and accepted by the DICOM server and client",
    "TcpNoDelay": "Disable Nagle's algorithm on DICOM sockets (much faster C-STORE)",
    "StrictAetComparison": "Compare AETs case-sensitively (otherwise case-insensitively)",
    "DicomEchoChecksFind": "Have /modalities/{id}/echo also check that the modality answers C-FIND",
    "DicomScuTimeout": "Timeout in seconds of the DICOM client (0 = no timeout)",
    "DicomAssociationCloseDelay": "Seconds an idle outgoing association is kept open for reuse",
    "SynchronousCMove": "Run received C-MOVE requests before answering (not as background jobs)",
    "QueryRetrieveSize": "Number of /queries results kept in memory",
    "StorageCommitmentReportsSize": "Number of storage commitment reports kept",
    "DicomDefaultRetrieveMethod": 'Default retrieve method of the /modalities routes: "C-MOVE" or "C-GET"',
    "DicomModalities": 'Known modalities: { "name" : [ "AET", "host", port ] } or { "AET", "Host", "Port" }',
    "DicomModalitiesInDatabase": "Keep modalities defined over REST in the index, not the configuration",
    "OrthancPeers": 'Other Orthanc servers: { "name" : [ "http://host:8042/", "user", "password" ] }',
    "OrthancPeersInDatabase": "Keep peers defined over REST in the index instead of the configuration",
    "HttpTimeout": "Timeout in seconds of HTTP requests to peers and DICOMweb servers (0 = none)",
    "HttpsVerifyPeers": "Check the certificates of HTTPS peers",
    "LogExportedResources": "Record sent resources in /exports",
    "ConcurrentJobs": "Jobs run at the same time by each server process",
    "JobsHistorySize": "Number of finished jobs kept in /jobs",
    "SaveJobs": "Whether unfinished jobs are resumed after a restart",
    "DicomWeb": 'DICOMweb server and client, keys of the Orthanc DICOMweb plugin ("Root", "Servers"...)',
}

# Sections of orthanc.json.example, in Orthanc's own order. Keys listed in _SAMPLE_COMMENTED_OUT are
# written as comments, as Orthanc's sample does, because writing their default would change meaning:
# an explicit "AuthenticationEnabled": false would keep a remote-access server open to anyone.
_SAMPLE_LAYOUT: list[tuple[str, list[str]]] = [
    (
        "General configuration",
        [
            "Name",
            "StorageDirectory",
            "IndexDirectory",
            "StorageCompression",
            "MaximumStorageSize",
            "MaximumPatientCount",
            "MaximumStorageMode",
            "SyncStorageArea",
            "OverwriteInstances",
            "ReadOnly",
            "StoreMD5ForAttachments",
        ],
    ),
    ("HTTP server", ["HttpPort", "HttpDescribeErrors", "HttpProcesses"]),
    (
        "DICOM server",
        [
            "DicomAet",
            "DicomPort",
            "DefaultEncoding",
            "DicomServerEnabled",
            "DicomCheckCalledAet",
            "DicomAlwaysAllowEcho",
            "DicomAlwaysAllowStore",
            "DicomAlwaysAllowFind",
            "DicomAlwaysAllowFindWorklist",
            "DicomAlwaysAllowGet",
            "DicomAlwaysAllowMove",
            "DicomCheckModalityHost",
            "UnknownSopClassAccepted",
            "AcceptedTransferSyntaxes",
            "DeflatedTransferSyntaxAccepted",
            "JpegTransferSyntaxAccepted",
            "Jpeg2000TransferSyntaxAccepted",
            "JpegLosslessTransferSyntaxAccepted",
            "JpipTransferSyntaxAccepted",
            "Mpeg2TransferSyntaxAccepted",
            "Mpeg4TransferSyntaxAccepted",
            "H265TransferSyntaxAccepted",
            "RleTransferSyntaxAccepted",
            "DicomScpTimeout",
            "MaximumPduLength",
            "TcpNoDelay",
            "StrictAetComparison",
        ],
    ),
    (
        "DICOM network",
        [
            "DicomEchoChecksFind",
            "DicomScuTimeout",
            "DicomAssociationCloseDelay",
            "SynchronousCMove",
            "QueryRetrieveSize",
            "StorageCommitmentReportsSize",
            "DicomDefaultRetrieveMethod",
            "DicomModalities",
            "DicomModalitiesInDatabase",
            "OrthancPeers",
            "OrthancPeersInDatabase",
            "HttpTimeout",
            "HttpsVerifyPeers",
            "LogExportedResources",
        ],
    ),
    ("Jobs", ["ConcurrentJobs", "JobsHistorySize", "SaveJobs"]),
    ("DICOMweb", ["DicomWeb"]),
    ("Security of the HTTP server", ["RemoteAccessAllowed", "AuthenticationEnabled", "RegisteredUsers"]),
    ("Advanced options", ["StableAge", "CaseSensitivePN", "LimitFindResults", "LimitFindInstances"]),
]
_SAMPLE_COMMENTED_OUT: dict[str, Any] = {"IndexDirectory": "OrthancStorage", "AuthenticationEnabled": False}

# Every top-level key of Orthanc 1.12 and of its official plugins that we know of. Used to spell
# environment variables right (ORTHANC__STORE_MD5_FOR_ATTACHMENTS is StoreMD5ForAttachments, not
# StoreMd5ForAttachments) and to tell "an Orthanc option we do not implement" from "a typo".
ORTHANC_KEYS: frozenset[str] = frozenset(KEYS) | frozenset(
    {
        "AcceptedTransferSyntaxes", "AuthenticationEnabled", "BuiltinDecoderTranscoderOrder",
        "CaseSensitivePN", "CheckRevisions", "ConcurrentJobs", "DatabaseServerIdentifier",
        "DeflatedTransferSyntaxAccepted", "DefaultEncoding", "DefaultPrivateCreator", "DeidentifyLogs",
        "DeidentifyLogsDicomVersion", "Dictionary", "DicomAet", "DicomAlwaysAllowEcho",
        "DicomAlwaysAllowFind", "DicomAlwaysAllowFindWorklist", "DicomAlwaysAllowGet",
        "DicomAlwaysAllowMove", "DicomAlwaysAllowStore", "DicomAssociationCloseDelay",
        "DicomCheckCalledAet", "DicomCheckModalityHost", "DicomDefaultRetrieveMethod",
        "DicomEchoChecksFind", "DicomLossyTranscodingQuality", "DicomModalities",
        "DicomModalitiesInDatabase", "DicomPort", "DicomScpTimeout", "DicomScuPreferredTransferSyntax",
        "DicomScuTimeout", "DicomServerEnabled", "DicomThreadsCount", "DicomTlsCertificate",
        "DicomTlsCiphersAccepted", "DicomTlsEnabled", "DicomTlsMinimumProtocolVersion",
        "DicomTlsPrivateKey", "DicomTlsRemoteCertificateRequired", "DicomTlsTrustedCertificates",
        "ExecuteLuaEnabled", "ExtraMainDicomTags", "H265TransferSyntaxAccepted", "HttpCompressionEnabled",
        "HttpDescribeErrors", "HttpPort", "HttpProxy", "HttpRequestTimeout", "HttpServerEnabled",
        "HttpThreadsCount", "HttpTimeout", "HttpVerbose", "HttpsCACertificates", "HttpsVerifyPeers",
        "IndexDirectory", "IngestTranscoding", "IngestTranscodingOfCompressed",
        "IngestTranscodingOfUncompressed", "Jpeg2000TransferSyntaxAccepted",
        "JpegLosslessTransferSyntaxAccepted", "JpegTransferSyntaxAccepted", "JobsEngineThreadsCount",
        "JobsHistorySize", "JpipTransferSyntaxAccepted", "KeepAlive", "KeepAliveTimeout",
        "LimitFindInstances", "LimitFindResults", "LimitJobs", "LoadPrivateDictionary", "Locale",
        "LogExportedResources", "LuaHeartBeatPeriod", "LuaScripts", "MallocArenaMax",
        "MaximumPatientCount", "MaximumPduLength",
        "MaximumStorageCacheSize", "MaximumStorageMode", "MaximumStorageSize", "MediaArchiveSize",
        "MetricsEnabled", "Mpeg2TransferSyntaxAccepted", "Mpeg4TransferSyntaxAccepted", "Name",
        "OrthancExplorerEnabled", "OrthancPeers", "OrthancPeersInDatabase", "OverwriteInstances", "Pkcs11",
        "Plugins", "QueryRetrieveSize", "ReadOnly", "RegisteredUsers", "RemoteAccessAllowed",
        "RestApiWriteToFileSystemEnabled", "RleTransferSyntaxAccepted", "SaveJobs", "SslCertificate",
        "SslEnabled", "SslMinimumProtocolVersion", "SslTrustedClientCertificates", "SslVerifyPeers",
        "StableAge", "StorageAccessOnFind", "StorageCommitmentReportsSize", "StorageCompression",
        "StorageDirectory", "StoreDicom", "StoreMD5ForAttachments", "StrictAetComparison",
        "SynchronousCMove", "SynchronousZipStream", "SyncStorageArea", "TcpNoDelay", "TemporaryDirectory",
        "TranscodeDicomProtocol", "UnknownSopClassAccepted", "UserContentType", "UserMetadata", "Warnings",
        "WebDavDeleteAllowed", "WebDavEnabled", "WebDavUploadAllowed", "ZipLoaderThreads",
        # Sections and options of the official plugins.
        "Authorization", "AwsS3Storage", "AzureBlobStorage", "ConnectivityChecks", "DelayedDeletion",
        "DicomWeb", "Gdcm", "GoogleCloudStorage", "Housekeeper", "Indexer", "MultitenantDicom", "MySQL",
        "Odbc", "Ohif", "OrthancExplorer2", "PostgreSQL", "PythonScript", "PythonVerbose", "ServeFolders",
        "StoneWebViewer", "Stl", "Tcia", "Transfers", "VolView", "WebViewer", "Worklists", "Wsi",
    }
)  # fmt: skip

# Known keys inside sections, for the same spelling problem one level down
# (ORTHANC__POSTGRESQL__ENABLE_SSL is PostgreSQL.EnableSsl).
SECTION_KEYS: dict[str, frozenset[str]] = {
    "PostgreSQL": frozenset(
        {
            "EnableIndex", "EnableStorage", "Host", "Port", "Database", "Username", "Password",
            "EnableSsl", "Lock", "ConnectionUri", "MaximumConnectionRetries", "ConnectionRetryInterval",
            "IndexConnectionsCount", "TransactionMode", "EnableVerboseLogs", "HousekeepingInterval",
            "AllowInconsistentChildCounts",
        }
    ),
    "MySQL": frozenset(
        {
            "EnableIndex", "EnableStorage", "Host", "Port", "UnixSocket", "Database", "Username",
            "Password", "Lock", "MaximumConnectionRetries", "ConnectionRetryInterval",
            "IndexConnectionsCount", "EnableSsl", "SslVerifyServerCertificates", "SslCACertificates",
        }
    ),
    "AwsS3Storage": frozenset(
        {
            "BucketName", "Region", "AccessKey", "SecretKey", "Endpoint", "VirtualAddressing",
            "StorageEncryption", "ConnectionTimeout", "RequestTimeout", "RootPath", "StorageStructure",
            "MigrationFromFileSystemEnabled", "HybridMode", "UseTransferManager", "EnableAwsSdkLogs",
            "CaFile",
        }
    ),
    "DicomWeb": frozenset(
        {
            "Enable", "Root", "EnableWado", "WadoRoot", "Ssl", "QidoCaseSensitive", "Host",
            "StudiesMetadata", "SeriesMetadata", "PublicRoot", "Servers", "EnablePerformanceLogs",
            "MetadataWorkerThreadsCount",
        }
    ),
}  # fmt: skip

# Keys whose value is a path: Orthanc resolves them against the folder of the configuration
# (OrthancConfiguration::InterpretStringParameterAsPath), not against the working directory.
PATH_KEYS: tuple[str, ...] = ("StorageDirectory", "IndexDirectory")

# Orthanc's StringToEncoding accepts these names (case-insensitively); we store the canonical spelling.
ENCODINGS: tuple[str, ...] = (
    "Ascii", "Utf8", "Latin1", "Latin2", "Latin3", "Latin4", "Latin5", "Cyrillic", "Windows1251",
    "Arabic", "Greek", "Hebrew", "Thai", "Japanese", "Chinese", "JapaneseKanji", "Korean",
    "SimplifiedChinese",
)  # fmt: skip

_PORT_KEYS = frozenset({"HttpPort", "DicomPort"})
