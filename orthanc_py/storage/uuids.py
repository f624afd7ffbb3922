"""UUIDs of new attachments: random version-4 UUIDs, handed out in runs sharing their first four
hex digits.

The folder storage area files an attachment under ``xx/yy/`` taken from those four digits, as
Orthanc does. With independent UUIDs nearly every file of an ingest lands in a folder of its own,
made for it: 2,000 instances made about 2,250 folders, and making them (a new inode each, found
by scanning the file system's bitmaps) took a tenth of the server's CPU during an ingest. A run of
``RUN_LENGTH`` UUIDs fills one folder before moving on to another chosen at random, so files still
spread over all 65,536 folders, and the files of one ingest sit together on the disk.
"""

from __future__ import annotations

import threading
import uuid

RUN_LENGTH = 64


class AttachmentUuids:
    def __init__(self, run_length: int = RUN_LENGTH) -> None:
        self.run_length = run_length
        self._prefix = ""
        self._left = 0
        self._lock = threading.Lock()  # the DICOM server's threads store too

    def new(self) -> str:
        value = str(uuid.uuid4())
        with self._lock:
            if self._left == 0:
                self._prefix = value[:4]
                self._left = self.run_length
            self._left -= 1
            return self._prefix + value[4:]
