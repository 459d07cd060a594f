"""The company management commands: create, deactivate, reactivate, fill the signup pool."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_tenants.utils import schema_context

from kpiplatform.accounts.models import Role, User
from kpiplatform.tenants import provisioning
from kpiplatform.tenants.models import Company
from kpiplatform.testing.companies import database_footprint

PASSWORD = "plum-orbit-canyon-77"


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue()


def test_create_company_prints_its_url_and_makes_an_admin(spare_schemas):
    output = run(
        "create_company",
        "--name=Vandelay Industries",
        "--slug=vandelay",
        "--admin-email=art@vandelay.example",
        f"--admin-password={PASSWORD}",
    )

    assert output.strip() == "Created Vandelay Industries: http://vandelay.localhost:8000/"
    with schema_context("vandelay"):
        admin = User.objects.get(email="art@vandelay.example")
        assert admin.role == Role.ADMIN
        assert admin.check_password(PASSWORD)


def test_create_company_reads_the_password_from_the_environment(spare_schemas, monkeypatch):
    monkeypatch.setenv("KPI_ADMIN_PASSWORD", PASSWORD)

    run("create_company", "--name=Vandelay", "--slug=vandelay", "--admin-email=art@v.example")

    client = Client(HTTP_HOST="vandelay.localhost")
    client.post("/login/", {"username": "art@v.example", "password": PASSWORD})
    assert client.get("/").status_code == 200


def test_create_company_without_a_password_refuses(spare_schemas, monkeypatch):
    monkeypatch.delenv("KPI_ADMIN_PASSWORD", raising=False)
    before = database_footprint()

    with pytest.raises(CommandError, match="KPI_ADMIN_PASSWORD"):
        run("create_company", "--name=V", "--slug=vandelay", "--admin-email=art@v.example")

    assert database_footprint() == before


def test_create_company_refuses_invalid_data_with_every_reason(spare_schemas, acme):
    before = database_footprint()

    with pytest.raises(CommandError) as refused:
        run(
            "create_company",
            "--name=Acme again",
            "--slug=acme",
            "--admin-email=not-an-email",
            "--admin-password=123",
        )

    message = str(refused.value)
    assert "slug: “acme” is taken; choose another." in message
    assert "admin_email: Enter a valid e-mail address." in message
    assert "admin_password: This password is too short." in message
    assert database_footprint() == before


def test_deactivate_and_reactivate_refuse_unknown_or_wrong_state(acme):
    with pytest.raises(CommandError, match="No company has the address “nobody”"):
        run("deactivate_company", "nobody")
    with pytest.raises(CommandError, match="not deactivated"):
        run("reactivate_company", "acme")

    assert "Deactivated Acme Inc (acme)" in run("deactivate_company", "acme")
    with pytest.raises(CommandError, match="already deactivated"):
        run("deactivate_company", "acme")
    assert acme.client("viewer").get("/").status_code == 404

    assert "Reactivated Acme Inc: http://acme.localhost:8000/" in run("reactivate_company", "acme")
    assert acme.client("viewer").get("/").status_code == 200


def test_fill_signup_pool_fills_to_the_size_asked(empty_signup_pool):
    assert run("fill_signup_pool", "--size=2").strip() == (
        "Created 2 spare schema(s); the pool holds 2."
    )
    assert run("fill_signup_pool", "--size=1").strip() == (
        "Created 0 spare schema(s); the pool holds 2."
    )
    spares = Company.objects.filter(state=Company.State.SPARE)
    assert all(provisioning.is_migrated(spare.schema_name) for spare in spares)
    with pytest.raises(CommandError, match="0 or more"):
        run("fill_signup_pool", "--size=-1")
