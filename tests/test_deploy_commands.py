"""Operator commands: ``manage.py create_company``."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from kpiplatform.tenants.models import Company, Domain
from kpiplatform.testing.companies import PASSWORD


def test_create_company_makes_a_company_whose_admin_can_log_in(db, monkeypatch, capsys):
    monkeypatch.setenv("FIRST_ADMIN_PASSWORD", PASSWORD)
    call_command(
        "create_company",
        name="Initech",
        slug="initech",
        admin_email="boss@initech.test",
        admin_password_env="FIRST_ADMIN_PASSWORD",
    )
    assert "http://initech.localhost:8000/" in capsys.readouterr().out
    company = Company.objects.get(slug="initech")
    assert company.state == Company.State.ACTIVE
    assert Domain.objects.filter(domain="initech.localhost", tenant=company).exists()
    client = Client(HTTP_HOST="initech.localhost")
    response = client.post("/login/", {"username": "boss@initech.test", "password": PASSWORD})
    assert response.status_code == 302


def test_create_company_refuses_a_taken_slug_and_says_why(acme, monkeypatch):
    monkeypatch.setenv("FIRST_ADMIN_PASSWORD", PASSWORD)
    with pytest.raises(CommandError, match=r"slug: .*taken"):
        call_command(
            "create_company",
            name="Acme again",
            slug="acme",
            admin_email="someone@acme2.test",
            admin_password_env="FIRST_ADMIN_PASSWORD",
        )


def test_create_company_refuses_an_unset_password_variable(db, monkeypatch):
    monkeypatch.delenv("NO_SUCH_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="NO_SUCH_PASSWORD"):
        call_command(
            "create_company",
            name="Initech",
            slug="initech",
            admin_email="boss@initech.test",
            admin_password_env="NO_SUCH_PASSWORD",
        )
