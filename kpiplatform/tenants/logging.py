"""Every log line carries the schema it was written in, so logs can be read per company."""

import logging

from django.db import connection


class TenantContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.schema_name = getattr(connection, "schema_name", "-") or "-"
        return True
