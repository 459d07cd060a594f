"""Each company's PostgreSQL role: made with its schema (pool included), renamed with a spare
at signup, dropped with the company, named per database, and with rights on its own data only."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection
from psycopg import sql

from kpiplatform.tenants import provisioning, roles
from kpiplatform.tenants.models import Company

PASSWORD = "plum-orbit-canyon-77"
READABLE = {
    "data_payments",
    "data_mrr_segments",
    "kpis_value",
    "kpis_mrr_movement",
    # The upstream objects connectors keep, which they read back while they sync.
    "connectors_sourceobject",
}
HIDDEN = {
    "accounts_user",
    "accounts_apitoken",
    "django_session",
    "plugins_pluginerror",
    # Connections hold the encrypted secrets: plugin SQL never reads them.
    "connectors_connection",
    "connectors_syncrun",
    # A webhook address's token would let plugin SQL trigger syncs of the company.
    "connectors_webhookendpoint",
    "connectors_webhookevent",
    "connectors_disconnection",
}


def signup(slug: str) -> Company:
    company, _ = provisioning.create_company(
        provisioning.SignupRequest(
            company_name=slug.title(),
            slug=slug,
            admin_email=f"owner@{slug}.example",
            admin_password=PASSWORD,
        )
    )
    return company


def role_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
        return cursor.fetchone() is not None


def rights_of(schema_name: str, other_schema: str) -> dict:
    """What the company role of ``schema_name`` may do, as PostgreSQL says."""
    role = roles.role_name(schema_name)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, "
            "shobj_description(oid, 'pg_authid'), "
            "has_schema_privilege(rolname, %(own)s, 'USAGE'), "
            "has_schema_privilege(rolname, %(own)s, 'CREATE'), "
            "has_schema_privilege(rolname, %(other)s, 'USAGE'), "
            "has_table_privilege(rolname, 'public.tenants_company', 'SELECT'), "
            "has_table_privilege(rolname, 'public.tenants_domain', 'SELECT'), "
            "has_database_privilege(rolname, current_database(), 'TEMPORARY'), "
            "EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member "
            "        WHERE m.roleid = pg_roles.oid AND u.rolname = current_user) "
            "FROM pg_roles WHERE rolname = %(role)s",
            {"role": role, "own": schema_name, "other": other_schema},
        )
        flags = cursor.fetchone()
        cursor.execute(
            "SELECT c.relname, has_table_privilege(%(role)s, c.oid, 'SELECT'), "
            "has_table_privilege(%(role)s, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE') "
            "FROM pg_class c WHERE c.relnamespace = %(own)s::regnamespace AND c.relkind = 'r'",
            {"role": role, "own": schema_name},
        )
        tables = cursor.fetchall()
    names = (
        "login", "superuser", "createrole", "createdb", "bypassrls", "comment", "usage",
        "create", "other_schema", "companies", "domains", "temporary", "platform_is_member",
    )  # fmt: skip
    return {
        **dict(zip(names, flags, strict=True)),
        "readable": {name for name, can_select, _ in tables if can_select},
        "writable": {name for name, _, can_write in tables if can_write},
    }


def assert_rights_on_its_own_data_only(schema_name: str, other_schema: str) -> None:
    rights = rights_of(schema_name, other_schema)
    readable = rights.pop("readable")
    assert rights == {
        "login": False, "superuser": False, "createrole": False, "createdb": False,
        "bypassrls": False, "comment": roles.ROLE_COMMENT, "usage": True, "create": False,
        "other_schema": False, "companies": False, "domains": False, "temporary": True,
        "platform_is_member": True, "writable": set(),
    }  # fmt: skip
    assert readable >= READABLE
    assert not HIDDEN & readable
    assert all(
        name.startswith(("data_", "kpis_", "facts_")) or name in roles.READABLE_TABLES
        for name in readable
    ), readable


def test_a_signup_from_the_pool_takes_the_spares_role_renamed(spare_schemas, globex):
    spare = spare_schemas[0]
    spare_role = roles.role_name(spare.schema_name)
    assert role_exists(spare_role)
    assert_rights_on_its_own_data_only(spare.schema_name, globex.schema_name)

    company = signup("initech")

    assert company.pk == spare.pk  # from the pool
    assert not role_exists(spare_role)
    assert role_exists(roles.role_name("initech"))
    assert_rights_on_its_own_data_only("initech", globex.schema_name)


def test_a_signup_with_an_empty_pool_gets_its_role_with_its_schema(empty_signup_pool, globex):
    signup("initech")
    assert_rights_on_its_own_data_only("initech", globex.schema_name)


def test_a_spare_made_before_company_roles_gets_its_role_at_signup(spare_schemas, globex):
    for spare in spare_schemas:
        roles.drop_company_role(spare.schema_name)
    signup("initech")
    assert_rights_on_its_own_data_only("initech", globex.schema_name)


def test_the_standing_companies_have_their_roles(acme, globex):
    assert_rights_on_its_own_data_only(acme.schema_name, globex.schema_name)
    assert_rights_on_its_own_data_only(globex.schema_name, acme.schema_name)


def test_deleting_a_company_drops_its_role(spare_schemas):
    company = signup("initech")
    role = roles.role_name("initech")
    assert role_exists(role)

    company.delete(force_drop=True)

    assert not role_exists(role)


def test_migrate_gives_existing_companies_their_role_and_grants_new_tables(acme, globex):
    roles.drop_company_role(globex.schema_name)
    role = sql.Identifier(roles.role_name(acme.schema_name))
    with connection.cursor() as cursor:
        # As a table that a later migration made: not granted yet.
        cursor.execute(
            sql.SQL("REVOKE SELECT ON {} FROM {}").format(
                sql.Identifier(acme.schema_name, "data_payments"), role
            )
        )
        # And a right the role must not have, granted by hand.
        cursor.execute(
            sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(
                sql.Identifier(acme.schema_name, "accounts_user"), role
            )
        )
    assert "data_payments" not in rights_of(acme.schema_name, globex.schema_name)["readable"]

    call_command("migrate_schemas", interactive=False, verbosity=0)

    assert_rights_on_its_own_data_only(acme.schema_name, globex.schema_name)
    assert_rights_on_its_own_data_only(globex.schema_name, acme.schema_name)


def test_role_names_hold_the_database_and_roles_of_dropped_databases_are_swept(acme):
    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_database WHERE datname = current_database()")
        oid = cursor.fetchone()[0]
        cursor.execute("SELECT max(oid::bigint) + 1000 FROM pg_database")
        gone = cursor.fetchone()[0]
        orphan, unmarked = f"kpiplatform_{gone}_acme", f"kpiplatform_{gone}_reader"
        for name in (orphan, unmarked):
            cursor.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
        cursor.execute(
            sql.SQL("COMMENT ON ROLE {} IS {}").format(
                sql.Identifier(orphan), sql.Literal(roles.ROLE_COMMENT)
            )
        )
    assert roles.role_name(acme.schema_name) == f"kpiplatform_{oid}_acme"

    assert roles.drop_orphaned_roles() == 1

    assert not role_exists(orphan)
    assert role_exists(unmarked)  # not made by kpiplatform: never touched
    assert role_exists(roles.role_name(acme.schema_name))


@pytest.mark.parametrize("schema_name", ["a" * 63, "spare_0123456789ab"])
def test_role_names_always_fit_postgresql(db, schema_name):
    name = roles.role_name(schema_name)
    assert len(name.encode()) <= roles.MAX_NAME_BYTES
    assert name.startswith(roles.ROLE_PREFIX)
