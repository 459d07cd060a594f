#!/bin/sh
# Waits for PostgreSQL, brings every schema up to date, then runs the given command
# (gunicorn by default; the worker and beat services pass their own).
# KPI_MIGRATE=0 skips the migrations (compose sets it for worker and beat: web migrates).
set -eu

echo "entrypoint: waiting for the database"
python - <<'PY'
import os
import sys
import time

import environ
import psycopg

config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
deadline = time.monotonic() + float(os.environ.get("KPI_DB_WAIT_SECONDS", "60"))
while True:
    try:
        psycopg.connect(
            dbname=config["NAME"], user=config["USER"], password=config["PASSWORD"],
            host=config["HOST"], port=config["PORT"] or 5432, connect_timeout=3,
        ).close()
        break
    except psycopg.OperationalError as exc:
        if time.monotonic() > deadline:
            sys.exit(f"entrypoint: database unreachable: {exc}")
        time.sleep(1)
PY

if [ "${KPI_MIGRATE:-1}" = "1" ]; then
    echo "entrypoint: migrating the shared schema, then every company schema"
    python manage.py migrate_schemas --shared --noinput
    python manage.py migrate_schemas --tenant --noinput --executor multiprocessing
fi

exec "$@"
