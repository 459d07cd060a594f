"""Each company's PostgreSQL role: the database itself keeps plugin SQL inside its company.

Plugin code (a KPI's ``compute``, a hook) runs its SQL under the role of the company it runs
for (:func:`company_role`, a ``SET LOCAL ROLE`` in the plugin call's transaction). The role may
read that company's datasets, the facts derived from them and its stored KPI values
(:data:`READABLE_APPS`), and create temporary tables; nothing else. Another company's schema,
the public schema's tables (companies, their hosts) and the company's own users, sessions,
tokens and plugin records are refused with "permission denied", even to a query naming them by
qualified name. The platform's own database user stays the owner of everything and does the
writing (the engine stores values after the plugin's code returned).

Roles are ``NOLOGIN`` and belong to the cluster, not to a database, while several databases
(development, tests, benchmarks, other installations) may share one server: a role's name
holds its database's oid, ``kpiplatform_<oid>_<schema>``, so that two databases never share a
role, and :func:`drop_orphaned_roles` removes the roles of databases that no longer exist.

Every migration run of a schema ends with :func:`ensure_company_role` for it (the
``schema_migrated`` signal of django-tenants, connected in the app config): new schemas, the
spares of the signup pool, and every existing company on ``migrate_schemas`` get their role
and the grants of the tables their migrations made. A spare's role is renamed with the spare
when a signup takes it (:func:`rename_company_role`), and a company's role is dropped with its
schema (:func:`drop_company_role`).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
from collections.abc import Iterator

from django.apps import apps
from django.db import connection, transaction
from psycopg import sql

logger = logging.getLogger(__name__)

ROLE_PREFIX = "kpiplatform_"
# Marks the roles made here (the sweep of orphaned roles drops nothing else).
ROLE_COMMENT = "kpiplatform company role: reads one company's schema"
# PostgreSQL truncates longer names (NAMEDATALEN - 1 bytes).
MAX_NAME_BYTES = 63
# The apps whose tables a company role reads: the canonical datasets, the facts derived from
# them and the stored KPI values with their settings. Users, sessions, tokens, invitations,
# login attempts and plugin records are not readable by plugin SQL.
READABLE_APPS = ("data", "facts", "kpis")
# Single tables of other apps the role reads: the upstream objects connectors keep
# (kpiplatform.connectors.models.SourceObject; the rest of that app holds secrets).
READABLE_TABLES = ("connectors_sourceobject",)
# Serialises the grant passes of one database: concurrent GRANTs on one catalogue row (the
# database's TEMPORARY right) fail with "tuple concurrently updated".
ROLES_LOCK_KEY = 0x6B70695F726F6C65


class DatabaseRoleChanged(RuntimeError):
    """Code run under a company's role switched to another role (``RESET ROLE``, ``SET ROLE``)."""


@functools.cache
def _database_oid(database: str) -> int:
    # Keyed by the database's name: the test runner switches the connection to another.
    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def database_oid() -> int:
    """The oid of the database the default connection uses (cached per database name)."""
    return _database_oid(connection.settings_dict["NAME"])


def role_name(schema_name: str) -> str:
    """The name of the company role of ``schema_name`` in this database."""
    name = f"{ROLE_PREFIX}{database_oid()}_{schema_name}"
    if len(name.encode()) > MAX_NAME_BYTES:
        # Schema names from signup fit; any other is shortened to a digest (a hyphen never
        # appears in a schema name, so it cannot meet a readable name).
        digest = hashlib.sha256(schema_name.encode()).hexdigest()[:32]
        name = f"{ROLE_PREFIX}{database_oid()}-{digest}"
    return name


def ensure_company_role(schema_name: str) -> None:
    """Create the company role of ``schema_name`` if missing and bring its rights to exactly
    USAGE on the schema, SELECT on the readable tables there, and TEMPORARY on the database.

    Idempotent and cheap when nothing changed (three reads); runs after every migration run
    of the schema, so tables added by later migrations are covered.
    """
    name = role_name(schema_name)
    role, schema = sql.Identifier(name), sql.Identifier(schema_name)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ROLES_LOCK_KEY])
        cursor.execute(
            "SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = %s",
            [name],
        )
        row = cursor.fetchone()
        if row is None:
            cursor.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(role))
            cursor.execute(
                sql.SQL("COMMENT ON ROLE {} IS {}").format(role, sql.Literal(ROLE_COMMENT)),
            )
        if row is None or not row[0]:
            # The platform's own user switches to the role (SET ROLE needs membership; a
            # superuser has it anyway).
            cursor.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(role))
        cursor.execute(
            "SELECT has_schema_privilege(%(role)s, %(schema)s, 'USAGE'), "
            "has_schema_privilege(%(role)s, %(schema)s, 'CREATE'), "
            # Granted to the role itself, not only through PUBLIC (which may lose it).
            "EXISTS (SELECT 1 FROM aclexplode(d.datacl) a WHERE a.grantee = %(role)s::regrole "
            "AND a.privilege_type = 'TEMPORARY'), d.datname "
            "FROM pg_database d WHERE d.datname = current_database()",
            {"role": name, "schema": schema_name},
        )
        usage, create, temporary, database = cursor.fetchone()
        if create:
            cursor.execute(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(schema, role))
        if not usage:
            cursor.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
        if not temporary:
            # KPIs share facts within a run through temporary tables.
            cursor.execute(
                sql.SQL("GRANT TEMPORARY ON DATABASE {} TO {}").format(
                    sql.Identifier(database), role
                ),
            )
        cursor.execute(
            "SELECT c.relname, has_table_privilege(%(role)s, c.oid, 'SELECT'), "
            "has_table_privilege(%(role)s, c.oid, "
            "'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
            {"role": name, "schema": schema_name},
        )
        readable = _readable_tables()
        grant, revoke = [], []
        for table, can_select, can_write in cursor.fetchall():
            if can_write or (can_select and table not in readable):
                revoke.append(sql.Identifier(schema_name, table))
            if table in readable and (can_write or not can_select):
                grant.append(sql.Identifier(schema_name, table))
        if revoke:
            cursor.execute(
                sql.SQL("REVOKE ALL ON TABLE {} FROM {}").format(sql.SQL(", ").join(revoke), role),
            )
        if grant:
            cursor.execute(
                sql.SQL("GRANT SELECT ON TABLE {} TO {}").format(sql.SQL(", ").join(grant), role),
            )


def _readable_tables() -> set[str]:
    tables = set(READABLE_TABLES)
    for label in READABLE_APPS:
        try:
            app = apps.get_app_config(label)
        except LookupError:  # an app of the list that this version does not have
            continue
        tables.update(model._meta.db_table for model in app.get_models(include_auto_created=True))
    return tables


def rename_company_role(old_schema: str, new_schema: str) -> None:
    """Rename the company role along with its schema (a spare taken at signup); the grants
    and the membership stay. A spare without a role (made before roles existed) gets one."""
    old, new = role_name(old_schema), role_name(new_schema)
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolname FROM pg_roles WHERE rolname IN (%s, %s)", [old, new])
        found = {row[0] for row in cursor.fetchall()}
        if new in found:
            # Left behind by a schema dropped by hand: it must not keep any right.
            _drop_role(cursor, new)
        if old in found:
            cursor.execute(
                sql.SQL("ALTER ROLE {} RENAME TO {}").format(
                    sql.Identifier(old), sql.Identifier(new)
                ),
            )
    if old not in found:
        ensure_company_role(new_schema)


def drop_company_role(schema_name: str) -> None:
    """Drop the company role of ``schema_name`` with every right it holds in this database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role_name(schema_name)])
        if cursor.fetchone() is not None:
            _drop_role(cursor, role_name(schema_name))


def _drop_role(cursor, name: str) -> None:
    role = sql.Identifier(name)
    # DROP OWNED revokes its rights (the database's TEMPORARY right, tables of a schema kept)
    # and drops what it owns (temporary tables), which DROP ROLE would refuse to leave.
    cursor.execute(sql.SQL("DROP OWNED BY {}").format(role))
    cursor.execute(sql.SQL("DROP ROLE {}").format(role))


# The company roles made here, with the oid of their database.
_COMPANY_ROLES = (
    "SELECT rolname, substring(rolname FROM %(oid)s)::oid FROM pg_roles "
    "WHERE rolname ~ %(name)s AND shobj_description(oid, 'pg_authid') = %(comment)s"
)


def _company_roles(cursor) -> list[tuple[str, int]]:
    prefix = f"^{ROLE_PREFIX}"
    cursor.execute(
        _COMPANY_ROLES,
        {"oid": f"{prefix}([0-9]+)", "name": f"{prefix}[0-9]+[_-]", "comment": ROLE_COMMENT},
    )
    return cursor.fetchall()


def database_roles() -> list[str]:
    """The names of this database's company roles, sorted."""
    with connection.cursor() as cursor:
        return sorted(name for name, oid in _company_roles(cursor) if oid == database_oid())


def drop_database_roles() -> int:
    """Drop every company role of this database (a test database about to be dropped);
    return how many."""
    names = database_roles()
    with connection.cursor() as cursor:
        for name in names:
            _drop_role(cursor, name)
    return len(names)


def drop_orphaned_roles() -> int:
    """Drop the company roles of databases that no longer exist (test databases, mostly);
    return how many. Such a role holds no right anywhere: its database took them along."""
    with connection.cursor() as cursor:
        # Roles first: a role is made after its database, so a database made meanwhile is
        # in the second read.
        roles = _company_roles(cursor)
        cursor.execute("SELECT oid FROM pg_database")
        databases = {oid for (oid,) in cursor.fetchall()}
    names = [name for name, oid in roles if oid not in databases]
    dropped = 0
    for name in names:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
            dropped += 1
        except Exception as exc:  # dropped meanwhile by another database's sweep, most likely
            logger.info("company role %s of a dropped database not dropped: %s", name, exc)
    return dropped


def on_schema_migrated(sender, schema_name: str, **kwargs) -> None:
    """After a migration run of a schema: the company's role and grants; after the public
    schema's, the sweep of roles left by dropped databases."""
    if schema_name == "public":
        drop_orphaned_roles()
    else:
        ensure_company_role(schema_name)


# Under the company's role (in the transaction only); the role name is a parameter.
_SET_ROLE = "SELECT set_config('role', %s, true)"
# Back to the platform's user, unless the code run under the role switched role itself: then
# the role is left as it is and NULL comes back.
_RESET_ROLE = "SELECT CASE WHEN current_user = %s THEN set_config('role', 'none', true) END"


@contextlib.contextmanager
def company_role() -> Iterator[None]:
    """Run the block's SQL under the active company's role, inside the current transaction.

    If the block raises, the transaction is marked for rollback (which also ends the role):
    nothing else runs in it under the company's role. If the block's code switched role
    itself, :class:`DatabaseRoleChanged` is raised the same way.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("company_role() lasts for a transaction: use it inside atomic()")
    if connection.schema_name == "public":
        raise RuntimeError("the public schema has no company role")
    name = role_name(connection.schema_name)
    with connection.cursor() as cursor:
        cursor.execute(_SET_ROLE, [name])
    try:
        yield
    except BaseException:
        transaction.set_rollback(True)
        raise
    with connection.cursor() as cursor:
        cursor.execute(_RESET_ROLE, [name])
        if cursor.fetchone()[0] is None:
            transaction.set_rollback(True)
            raise DatabaseRoleChanged(
                f"plugin code switched the database role away from {name}; its work is undone"
            )
