"""Plugin code that raises at run time is recorded against the plugin, in its company only."""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import types
from dataclasses import dataclass
from importlib.metadata import EntryPoint

import pytest
from django.db import connection, transaction
from kpiplatform_example import plugin as example

from kpiplatform import plugins
from kpiplatform.accounts.models import User
from kpiplatform.kpis import engine
from kpiplatform.kpis.models import KPIComputation
from kpiplatform.kpis.registry import registered_kpis
from kpiplatform.plugins import get_manager
from kpiplatform.plugins.manager import PluginManager
from kpiplatform.plugins.models import PluginError
from kpiplatform.sdk import KPI, Grain, KPIResult, KPIValue, Period, hookimpl
from kpiplatform.tenants import roles
from kpiplatform.tenants.models import Company
from kpiplatform.testing.data import load_records
from kpiplatform.testing.kpis import configure_company, recompute_all, stored_values
from kpiplatform.web import demo

MAR = dt.date(2025, 3, 31)


def payment(ref: str, amount_minor: int) -> dict:
    return {
        "external_id": ref,
        "customer_ref": ref,
        "occurred_at": "2025-02-10T10:00:00+00:00",
        "amount_minor": amount_minor,
        "currency": "EUR",
        "status": "succeeded",
    }


class SqlContext:
    """The smallest KPIContext: SQL in the active company schema."""

    reporting_currency = "EUR"
    time_zone = "UTC"

    def query(self, sql, params=None):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()


def test_a_failing_lifecycle_hook_is_recorded_in_its_company_and_other_plugins_still_run(
    acme, globex
):
    with acme.activate():
        calls = plugins.notify_kpi_values_updated(["mrr", "arr", "mrr"])
        errors = list(PluginError.objects.values_list("plugin", "hook", "message"))
    outcome = {call.plugin: call.ok for call in calls}
    assert outcome == {"kpiplatform-broken-hook": False, "kpiplatform-example": True}
    assert example.UPDATES[-1] == (acme.schema_name, ["arr", "mrr"])
    assert errors == [
        (
            "kpiplatform-broken-hook",
            "kpi_values_updated",
            "RuntimeError: kpi_values_updated of kpiplatform-broken-hook fails in acme",
        )
    ]
    with globex.activate():
        assert not PluginError.objects.exists()

    listed = {p["name"]: p for p in acme.client("admin").get("/api/v1/plugins/").json()}
    recent = listed["kpiplatform-broken-hook"]["recent_errors"]
    assert [(e["hook"], e["message"]) for e in recent] == [(errors[0][1], errors[0][2])]
    page = acme.client("admin").get("/plugins/").content.decode()
    assert "kpi_values_updated of kpiplatform-broken-hook fails in acme" in page
    other = {p["name"]: p for p in globex.client("admin").get("/api/v1/plugins/").json()}
    assert other["kpiplatform-broken-hook"]["recent_errors"] == []


def test_a_plugin_disabled_by_the_company_is_not_called(acme):
    with acme.activate():
        plugins.set_enabled("kpiplatform-broken-hook", False)
        calls = plugins.notify_kpi_values_updated(["mrr"])
        assert [call.plugin for call in calls] == ["kpiplatform-example"]
        assert not PluginError.objects.exists()


def test_kpi_compute_runs_through_the_manager_and_its_failure_is_recorded(acme):
    with acme.activate():
        plugin_name, kpi = plugins.kpis()["example_days"]
        months = Period.between(Grain.MONTH, dt.date(2024, 1, 1), dt.date(2024, 2, 1))
        good = plugins.call_plugin(
            plugin_name, kpi.compute, SqlContext(), months, hook="compute:example_days"
        )
        bad = plugins.call_plugin(
            plugin_name,
            kpi.compute,
            SqlContext(),
            [Period.containing(Grain.MONTH, dt.date(1999, 12, 5))],
            hook="compute:example_days",
        )
        recorded = PluginError.objects.get()
    assert good.ok
    assert [v.result.value for v in good.value] == [31, 29]
    assert not bad.ok
    assert bad.error == "ValueError: example_days refuses periods before 2000-01-01"
    assert (recorded.plugin, recorded.hook) == ("kpiplatform-example", "compute:example_days")
    assert "Traceback" in recorded.traceback


def test_a_plugin_sql_error_leaves_the_callers_transaction_usable(acme):
    def bad_sql():
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    with acme.activate(), transaction.atomic():
        call = plugins.call_plugin("kpiplatform-example", bad_sql, hook="compute:broken_sql")
        assert not call.ok
        assert 'relation "no_such_table" does not exist' in call.error
        # The caller's transaction goes on, and the error was recorded in it.
        assert User.objects.filter(email=acme.email("admin")).exists()
        assert PluginError.objects.filter(hook="compute:broken_sql").count() == 1


def test_errors_raised_while_a_plugin_generator_is_consumed_are_caught(acme):
    def lazy_values():
        yield 1
        raise ZeroDivisionError("lazily")

    with acme.activate():
        call = plugins.call_plugin("kpiplatform-example", lazy_values, hook="compute:lazy")
    assert not call.ok
    assert call.error == "ZeroDivisionError: lazily"


# --- start-up validation, with plugin modules made in the test ---------------------------


@pytest.fixture
def plugin_module(monkeypatch):
    """Make an importable module holding the given attributes; return its entry point."""

    def make(name: str, **attributes) -> EntryPoint:
        module = types.ModuleType(name)
        for attribute, value in attributes.items():
            setattr(module, attribute, value)
        monkeypatch.setitem(sys.modules, name, module)
        return EntryPoint(name=name, value=name, group="kpiplatform")

    return make


def test_a_plugin_without_sdk_supports_is_incompatible_and_told_what_to_declare(plugin_module):
    manager = PluginManager()
    manager.load_plugins({"undeclared": ("1.0", [plugin_module("undeclared_plugin")])})
    plugin = manager.plugins["undeclared"]
    assert plugin.state == "incompatible"
    assert not plugin.is_loaded
    assert plugin.fix.startswith("Add SDK_SUPPORTS = '>=1.0,<2' to undeclared_plugin")


def test_a_misspelt_hook_makes_the_plugin_broken_and_names_the_real_hooks(plugin_module):
    @hookimpl
    def register_kpi():
        return []

    manager = PluginManager()
    point = plugin_module("typo_plugin", SDK_SUPPORTS=">=1", register_kpi=register_kpi)
    manager.load_plugins({"typo": ("1.0", [point])})
    plugin = manager.plugins["typo"]
    assert plugin.state == "broken"
    assert "'register_kpi', which is not a kpiplatform hook" in plugin.error
    assert "register_kpis" in plugin.fix
    assert manager.implementations("register_kpis") == []


def test_a_hook_with_an_unknown_argument_makes_the_plugin_broken(plugin_module):
    @hookimpl
    def kpi_values_updated(tenant, keys):
        return None

    manager = PluginManager()
    point = plugin_module("bad_args", SDK_SUPPORTS=">=1", kpi_values_updated=kpi_values_updated)
    manager.load_plugins({"bad-args": ("1.0", [point])})
    assert manager.plugins["bad-args"].state == "broken"
    assert "tenant" in manager.plugins["bad-args"].error


def test_an_invalid_version_or_tier_is_reported(plugin_module):
    manager = PluginManager()
    manager.load_plugins(
        {
            "no-version": ("latest", [plugin_module("versionless", SDK_SUPPORTS=">=1")]),
            "odd-tier": ("1.0", [plugin_module("odd_tier", SDK_SUPPORTS=">=1", TIER="core")]),
        }
    )
    assert "'latest' is not a valid version number" in manager.plugins["no-version"].error
    assert manager.plugins["odd-tier"].error == "TIER 'core' is not a tier."


def test_essential_plugins_load_first_and_keep_their_keys(plugin_module):
    from kpiplatform.sdk import KPI

    def registering(key):
        @hookimpl
        def register_kpis():
            return [KPI(key=key, name=key)]

        return register_kpis

    default = plugin_module("aaa", SDK_SUPPORTS=">=1", register_kpis=registering("mrr"))
    essential = plugin_module(
        "zzz", SDK_SUPPORTS=">=1", TIER="essential", register_kpis=registering("mrr")
    )
    manager = PluginManager()
    manager.load_plugins({"aaa-default": ("1.0", [default]), "zzz-core": ("1.0", [essential])})
    assert list(manager.plugins) == ["zzz-core", "aaa-default"]
    assert manager.kpis["mrr"][0] == "zzz-core"
    assert "already provided by zzz-core" in manager.plugins["aaa-default"].error


def test_only_the_latest_errors_of_a_plugin_are_kept(acme):
    from kpiplatform.plugins.registry import KEPT_ERRORS_PER_PLUGIN

    def fails(n):
        raise RuntimeError(f"failure {n}")

    with acme.activate():
        for n in range(KEPT_ERRORS_PER_PLUGIN + 2):
            plugins.call_plugin("kpiplatform-example", fails, n, hook="compute:repeat")
        kept = list(PluginError.objects.values_list("message", flat=True))
    assert len(kept) == KEPT_ERRORS_PER_PLUGIN
    assert kept[0] == f"RuntimeError: failure {KEPT_ERRORS_PER_PLUGIN + 1}"
    assert kept[-1] == "RuntimeError: failure 2"


# --- plugin SQL runs under the company's database role -----------------------------------


@dataclass
class QueryKPI(KPI):
    """A KPI whose every period is the first column of one query's first row."""

    sql: str = ""

    def compute(self, context, periods):
        value = context.query(self.sql)[0][0]
        return [KPIValue(period, KPIResult.amount(value)) for period in periods]


def registered(monkeypatch, queries: dict[str, str]) -> None:
    """Register one QueryKPI per key with the example plugin, for this test."""
    for key, query in queries.items():
        kpi = QueryKPI(key=key, name=key, sql=query, requires=["payments"])
        monkeypatch.setitem(get_manager().kpis, key, ("kpiplatform-example", kpi))


def test_plugin_sql_naming_another_company_or_a_platform_table_fails_that_kpi_alone(
    acme, globex, monkeypatch
):
    with globex.activate():
        load_records("payments", [payment("globex-secret", 99_900)])
    with acme.activate():
        load_records("payments", [payment("acme-own", 1_000)])
    registered(
        monkeypatch,
        {
            "peek_globex": f"SELECT count(*) FROM {globex.schema_name}.data_payments",
            "peek_companies": "SELECT count(*) FROM public.tenants_company",
            "peek_users": "SELECT count(*) FROM accounts_user",
            "own_payments": "SELECT count(*) FROM data_payments",
        },
    )
    keys = ["own_payments", "peek_companies", "peek_globex", "peek_users"]
    with acme.activate():
        report = engine.compute_kpis(
            keys=keys, grains=["month"], first_day=dt.date(2025, 1, 1), last_day=MAR
        )
        failures = dict(
            KPIComputation.objects.filter(kpi__in=keys, failed_at__isnull=False).values_list(
                "kpi", "error"
            )
        )
        own = stored_values("own_payments")
        recorded = dict(
            PluginError.objects.filter(plugin="kpiplatform-example").values_list("hook", "message")
        )
    assert report.computed == ["own_payments"]
    # February and March: the periods from the payment on (periods follow the data).
    assert [v.value for v in own.values()] == [1, 1]
    reasons = {
        "peek_globex": "permission denied for schema globex",
        "peek_companies": "permission denied for table tenants_company",
        "peek_users": "permission denied for table accounts_user",
    }
    assert sorted(report.failed) == sorted(reasons)
    for key, reason in reasons.items():
        assert report.failed[key].endswith(f"KPIComputeFailed: ProgrammingError: {reason}")
        assert reason in failures[key]
    # Admins see each failure on the plugins page: recorded after the KPI's transaction
    # rolled back, not inside it.
    assert sorted(recorded) == sorted(f"compute:{key}" for key in reasons)
    for key, reason in reasons.items():
        assert reason in recorded[f"compute:{key}"]


def test_kpis_handed_to_the_engine_directly_compute_under_the_company_role_too(acme):
    kpi = QueryKPI(key="peek", name="peek", sql="SELECT count(*) FROM public.tenants_company")
    with acme.activate():
        report = engine.compute_kpis(
            kpis={"peek": kpi}, grains=["month"], first_day=dt.date(2025, 1, 1), last_day=MAR
        )
        error = KPIComputation.objects.get(kpi="peek").error
    assert "peek" in report.failed
    assert "permission denied for table tenants_company" in error


def test_plugin_code_runs_under_the_company_role_without_superuser_rights(acme):
    def whoami():
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user, session_user, current_setting('is_superuser')")
            return cursor.fetchone()

    with acme.activate():
        call = plugins.call_plugin("kpiplatform-example", whoami, hook="whoami")
        after = whoami()
    assert call.ok, call.error
    current_user, session_user, superuser = call.value
    assert current_user == roles.role_name(acme.schema_name) != session_user
    assert superuser == "off"
    assert after[0] == session_user  # the platform's own user again after the call


def test_plugin_code_that_switches_role_fails_and_its_writes_are_undone(acme, globex):
    def escape():
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")
            cursor.execute(
                "UPDATE public.tenants_company SET name = 'taken over' WHERE schema_name = %s",
                [globex.schema_name],
            )

    with acme.activate():
        call = plugins.call_plugin("kpiplatform-example", escape, hook="escape")
    assert not call.ok
    assert "switched the database role" in call.error
    assert Company.objects.get(schema_name=globex.schema_name).name == "Globex Corporation"


def test_the_built_in_kpis_give_the_same_values_under_the_company_role(acme):
    today = dt.date(2026, 11, 30)
    with acme.activate():
        configure_company("USD", "Europe/Paris", "0.8")
        for dataset, records in demo.generate(today).items():
            load_records(dataset, records)
        report = recompute_all()  # through the engine: under the company's role
        assert report.computed and not report.failed
        kpis = registered_kpis()
        periods = Period.between(Grain.MONTH, dt.date(2025, 6, 1), today)
        values = {}
        for under_role in (True, False):
            context = engine.build_context()
            context.as_of = today
            for kpi in engine.ordered_by_dependencies(kpis, kpis):
                with roles.company_role() if under_role else contextlib.nullcontext():
                    computed = list(kpi.compute(context, periods))
                values[under_role, kpi.key] = computed
            with connection.cursor() as cursor:  # the shared facts of the run
                tables = context.memo.pop(engine.TEMPORARY_TABLES, ())
                cursor.execute(f"DROP TABLE IF EXISTS {', '.join(tables)}")
    for key in kpis:
        assert values[True, key] == values[False, key], key
    assert any(v.result.value for v in values[True, "mrr"])
    assert len(kpis) >= 38
