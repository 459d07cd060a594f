"""Provisioning: both signup paths, all-or-nothing failures, the pool, concurrent signups."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection
from django.test import Client
from django_tenants.signals import schema_migrated
from django_tenants.utils import schema_context, schema_exists

from kpiplatform.accounts.models import User
from kpiplatform.hosts import host_for
from kpiplatform.tenants import provisioning
from kpiplatform.tenants.models import Company, Domain
from kpiplatform.tenants.tasks import refill_signup_pool
from kpiplatform.testing.companies import database_footprint

PASSWORD = "plum-orbit-canyon-77"


def signup(slug: str, name: str | None = None) -> provisioning.SignupRequest:
    return provisioning.SignupRequest(
        company_name=name or slug.title(),
        slug=slug,
        admin_email=f"owner@{slug}.example",
        admin_password=PASSWORD,
    )


def logs_in_on_its_host(slug: str) -> bool:
    client = Client(HTTP_HOST=host_for(slug))
    client.post("/login/", {"username": f"owner@{slug}.example", "password": PASSWORD})
    return client.get("/").status_code == 200


FAIL_ON_DOMAIN_INSERT = """
CREATE FUNCTION public.refuse_domain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'domain registry unavailable'; END $$;
CREATE TRIGGER refuse_domain BEFORE INSERT ON public.tenants_domain
    FOR EACH ROW EXECUTE FUNCTION public.refuse_domain();
"""
DROP_FAIL_ON_DOMAIN_INSERT = "DROP FUNCTION IF EXISTS public.refuse_domain() CASCADE"


def test_with_an_empty_pool_signup_migrates_a_new_schema(empty_signup_pool):
    company, admin = provisioning.create_company(signup("hooli"))

    assert company.schema_name == "hooli"
    assert admin.is_admin
    assert provisioning.is_migrated("hooli")
    assert provisioning.pool_size() == 0
    assert logs_in_on_its_host("hooli")


def test_pool_is_refilled_by_fill_pool_and_by_the_refill_task(empty_signup_pool, settings):
    settings.KPI_SIGNUP_POOL_SIZE = 2
    assert provisioning.fill_pool(1) == 1
    assert provisioning.pool_size() == 1

    assert refill_signup_pool() == 1
    assert provisioning.pool_size() == 2
    assert refill_signup_pool() == 0

    provisioning.create_company(signup("hooli"))
    assert provisioning.pool_size() == 1
    spare_schemas = Company.objects.filter(state=Company.State.SPARE).values_list(
        "schema_name", flat=True
    )
    assert all(provisioning.is_migrated(name) for name in spare_schemas)


def test_spares_have_no_domain_and_cannot_be_deactivated(spare_schemas):
    spare = spare_schemas[0]
    assert not Domain.objects.filter(tenant=spare).exists()
    with pytest.raises(ValueError, match="not a company"):
        provisioning.deactivate_company(spare)


def test_signup_failing_half_way_in_the_pool_path_leaves_nothing(spare_schemas):
    # A real failure after the rename: no spare accepts a user any more.
    for spare in spare_schemas:
        with connection.cursor() as cursor:
            cursor.execute(
                f'ALTER TABLE "{spare.schema_name}".accounts_user '
                "ADD CONSTRAINT refuse_users CHECK (false) NOT VALID"
            )
    before = database_footprint()

    with pytest.raises(IntegrityError, match="refuse_users"):
        provisioning.create_company(signup("hooli"))

    assert database_footprint() == before
    assert not schema_exists("hooli")
    assert provisioning.pool_size() == len(spare_schemas)


def test_signup_failing_half_way_in_the_migrate_path_leaves_nothing(empty_signup_pool):
    with connection.cursor() as cursor:
        cursor.execute(FAIL_ON_DOMAIN_INSERT)
    before = database_footprint()

    with pytest.raises(DatabaseError, match="domain registry unavailable"):
        provisioning.create_company(signup("hooli"))

    assert database_footprint() == before
    assert not schema_exists("hooli")
    assert connection.schema_name == "public"


def test_committed_signup_failing_after_migrating_leaves_nothing(
    standing_companies, django_db_blocker
):
    # No test transaction here: this checks what really reaches the database.
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(FAIL_ON_DOMAIN_INSERT)
        # Another connection holds every spare, so this signup finds the pool empty.
        other = psycopg.connect(
            dbname=connection.settings_dict["NAME"],
            host=connection.settings_dict["HOST"],
            port=connection.settings_dict["PORT"],
            user=connection.settings_dict["USER"],
        )
        try:
            other.execute("SELECT id FROM tenants_company WHERE state = 'spare' FOR UPDATE")
            before = database_footprint()
            migrated: list[str] = []
            record = lambda sender, schema_name, **kw: migrated.append(schema_name)  # noqa: E731
            schema_migrated.connect(record)
            with pytest.raises(DatabaseError, match="domain registry unavailable"):
                provisioning.create_company(signup("hooli"))
            after = database_footprint()
        finally:
            schema_migrated.disconnect(record)
            other.close()
            with connection.cursor() as cursor:
                cursor.execute(DROP_FAIL_ON_DOMAIN_INSERT)
    assert migrated == ["hooli"]  # the slow path ran, and was undone
    assert after == before
    assert "hooli" not in after["schemas"]


@pytest.mark.slow
def test_concurrent_signups_take_different_spares(standing_companies, django_db_blocker):
    hold = 781_204  # advisory lock the first signup waits on, after it has claimed its spare
    results: dict[str, object] = {}

    def sign_up(slug: str) -> None:
        try:
            results[slug] = provisioning.create_company(signup(slug))[0]
        except Exception as exc:
            results[slug] = exc
        finally:
            connection.close()

    with django_db_blocker.unblock():
        provisioning.fill_pool(2)
        spare_pks = set(
            Company.objects.filter(state=Company.State.SPARE).values_list("pk", flat=True)
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                CREATE FUNCTION public.hold_signup() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                  IF NEW.domain = 'first-co.localhost' THEN
                    PERFORM pg_advisory_xact_lock({hold});
                  END IF;
                  RETURN NEW;
                END $$;
                CREATE TRIGGER hold_signup BEFORE INSERT ON public.tenants_domain
                    FOR EACH ROW EXECUTE FUNCTION public.hold_signup();
                SELECT pg_advisory_lock({hold});
                """
            )
        first = threading.Thread(target=sign_up, args=("first-co",))
        second = threading.Thread(target=sign_up, args=("second-co",))
        try:
            first.start()
            deadline = time.monotonic() + 20
            with connection.cursor() as cursor:
                while time.monotonic() < deadline:  # until the first signup holds its spare
                    cursor.execute(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    )
                    if cursor.fetchone()[0]:
                        break
                    time.sleep(0.02)
            second.start()
            second.join(timeout=20)
            second_done_while_first_waited = not second.is_alive() and first.is_alive()
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT pg_advisory_unlock({hold})")
            first.join(timeout=20)
            second.join(timeout=20)
            with connection.cursor() as cursor:
                cursor.execute("DROP FUNCTION IF EXISTS public.hold_signup() CASCADE")
            made = list(Company.objects.filter(slug__in=["first-co", "second-co"]))
            for company in made:
                company.delete(force_drop=True)
            provisioning.fill_pool(2)
            connection.set_schema_to_public()

    assert second_done_while_first_waited
    assert isinstance(results["first-co"], Company), results["first-co"]
    assert isinstance(results["second-co"], Company), results["second-co"]
    taken = {results["first-co"].pk, results["second-co"].pk}
    assert len(taken) == 2
    assert taken <= spare_pks


def test_migrate_schemas_reaches_the_spares(spare_schemas):
    spare = spare_schemas[0].schema_name
    call_command(
        "migrate_schemas", "sessions", "zero", schema_name=spare, interactive=False, verbosity=0
    )
    assert not provisioning.is_migrated(spare)

    call_command("migrate_schemas", tenant=True, interactive=False, verbosity=0)

    assert provisioning.is_migrated(spare)


def test_a_spare_behind_the_migrations_is_migrated_before_it_is_handed_out(spare_schemas):
    for spare in spare_schemas:  # sessions unapplied: logging in would fail
        call_command(
            "migrate_schemas",
            "sessions",
            "zero",
            schema_name=spare.schema_name,
            interactive=False,
            verbosity=0,
        )
    connection.set_schema_to_public()

    company, _ = provisioning.create_company(signup("hooli"))

    assert company.pk == spare_schemas[0].pk
    assert provisioning.is_migrated("hooli")
    assert logs_in_on_its_host("hooli")


def test_a_schema_left_without_a_company_is_never_adopted(spare_schemas):
    with connection.cursor() as cursor:
        cursor.execute('CREATE SCHEMA "hooli"')

    with pytest.raises(provisioning.SignupInvalid) as refused:
        provisioning.create_company(signup("hooli"))

    assert refused.value.message_dict == {"slug": ["“hooli” is taken; choose another."]}


def test_deactivated_company_answers_404_keeps_its_data_and_comes_back(spare_schemas):
    provisioning.create_company(signup("hooli"))
    host = host_for("hooli")
    client = Client(HTTP_HOST=host)
    client.post("/login/", {"username": "owner@hooli.example", "password": PASSWORD})
    assert client.get("/").status_code == 200

    call_command("deactivate_company", "hooli", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert client.get("/").status_code == 404
    assert client.get("/api/v1/me/").status_code == 404
    assert Client(HTTP_HOST=host).get("/login/").status_code == 404
    assert schema_exists("hooli")
    with schema_context("hooli"):
        assert User.objects.filter(email="owner@hooli.example").exists()

    call_command("reactivate_company", "hooli", stdout=open("/dev/null", "w"))  # noqa: SIM115

    assert client.get("/").status_code == 200
    assert client.get("/api/v1/me/").status_code == 200
