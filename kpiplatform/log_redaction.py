"""Secrets carried in URLs never reach a log line.

Three links carry a secret in their URL, because they are e-mailed or followed across hosts:
an invitation (``/invitations/accept/<token>/``, valid 7 days, may grant admin), a password
reset (``/password-reset/<uid>/<token>/``) and the signup hand-over
(``/auth/handover/?ticket=<ticket>``). Access logs print request lines and referrers, and
Django logs the path of every 4xx answer, so each would write the secret into the logs.

:class:`RedactTokens` rewrites a record's message with the secrets replaced by
``[redacted]``. ``settings.LOGGING`` puts it on every handler (so runserver's request lines
and every other log line pass through it), and :class:`GunicornLogger` on gunicorn's access
and error logs (``docker/gunicorn.conf.py``). Keep :data:`SECRET_IN_URL` in step with the
URLs of ``kpiplatform/accounts/urls.py``; ``tests/test_log_redaction.py`` drives each flow
through runserver and gunicorn and looks for the raw secrets in everything they printed.
"""

from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger as _GunicornLogger

REDACTED = "[redacted]"

# Characters that end a URL segment or a query value in a log line.
_SEGMENT = r"[^/?#&\s\"']+"
SECRET_IN_URL = re.compile(
    rf"(?P<keep>/invitations/accept/){_SEGMENT}"
    # The confirm link; Django then moves the token into the session and redirects to
    # /password-reset/<uid>/set-password/, which carries nothing secret.
    rf"|(?P<keep_reset>/password-reset/{_SEGMENT}/)(?!set-password\b){_SEGMENT}"
    rf"|(?P<keep_query>[?&](?:ticket|token)=){_SEGMENT}"
)


def redact(text: str) -> str:
    """``text`` with the secret part of every secret-bearing URL replaced by ``[redacted]``."""
    return SECRET_IN_URL.sub(_keep_prefix, text)


def _keep_prefix(match: re.Match) -> str:
    prefix = match["keep"] or match["keep_reset"] or match["keep_query"]
    return prefix + REDACTED


class RedactTokens(logging.Filter):
    """Rewrites the record's message (its arguments merged in) without URL secrets."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


class GunicornLogger(_GunicornLogger):
    """gunicorn's logger with :class:`RedactTokens` on its access log and error log.

    The access line is formatted from the request line, path, query string, referrer and
    every header (``access_log_format``); the filter sees the finished line, whatever the
    format.
    """

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.access_log, self.error_log):
            if not any(isinstance(f, RedactTokens) for f in log.filters):
                log.addFilter(RedactTokens())
