"""The development mail backend: every sent message becomes one ``.eml`` file.

Django's file backend appends messages to ``.log`` files; one ``.eml`` file per message opens
as the e-mail it is (HTML, inline charts, attachments) in any mail program. ``make run``
writes them to ``var/mail`` (``EMAIL_URL=filemail://...`` chooses this backend).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from pathlib import Path

from django.core.mail.backends.filebased import EmailBackend as FileBackend

_sequence = itertools.count(1)


class EmlFileBackend(FileBackend):
    """Writes each message to ``<EMAIL_FILE_PATH>/<UTC time>-<pid>-<n>.eml``."""

    def open(self) -> bool:
        return False  # nothing to open: each message gets its own file

    def close(self) -> None:
        pass

    def send_messages(self, email_messages) -> int:
        sent = 0
        for message in email_messages or ():
            if not message.recipients():
                continue
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S-%f")
            path = Path(self.file_path) / f"{stamp}-{os.getpid()}-{next(_sequence)}.eml"
            # Written under a temporary name and renamed: a reader never sees half a message.
            partial = path.with_suffix(".partial")
            partial.write_bytes(message.message().as_bytes(linesep="\r\n"))
            partial.rename(path)
            sent += 1
        return sent
