"""What plugins give the current company, and calling plugin code safely inside it.

Everything here reads the active schema: in a company's schema, only the plugins that
company has enabled count (essential ones always do) and failures are stored in its
PluginError table; in the public schema (start-up, platform tasks) every loaded plugin
counts and failures are logged.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection, transaction
from django.utils import timezone

from kpiplatform.plugins.manager import (
    InstalledPlugin,
    Outcome,
    PluginProblem,
    get_manager,
    run_isolated,
)
from kpiplatform.sdk import KPI, Connector, NotificationChannel, Tier
from kpiplatform.tenants import roles

logger = logging.getLogger(__name__)

RECENT_ERRORS_PER_PLUGIN = 5
# A plugin failing on every sync must not fill the table: older errors are dropped.
KEPT_ERRORS_PER_PLUGIN = 100


class UnknownPlugin(LookupError):
    """No installed plugin has this name."""


class EssentialPlugin(ValueError):
    """An essential plugin cannot be disabled."""


@dataclass(frozen=True)
class PluginCall:
    """The result of calling one plugin's code: its value, or the error that was recorded."""

    plugin: str
    hook: str
    ok: bool
    value: Any = None
    error: str = ""
    exception: BaseException | None = None
    traceback: str = ""


@dataclass(frozen=True)
class RecordedError:
    hook: str
    message: str
    traceback: str
    occurred_at: Any = None


@dataclass
class PluginStatus:
    """An installed plugin as the current company sees it."""

    plugin: InstalledPlugin
    enabled: bool
    recent_errors: list[RecordedError] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.plugin.name

    @property
    def can_disable(self) -> bool:
        return self.plugin.tier != Tier.ESSENTIAL

    @property
    def startup_problems(self) -> list[PluginProblem]:
        return self.plugin.problems


def _in_company() -> bool:
    return connection.schema_name != "public"


def _disabled_names() -> set[str]:
    if not _in_company():
        return set()
    from kpiplatform.plugins.models import PluginSetting

    return set(PluginSetting.objects.filter(enabled=False).values_list("plugin", flat=True))


def is_enabled(plugin: InstalledPlugin, disabled: set[str]) -> bool:
    return plugin.tier == Tier.ESSENTIAL or plugin.name not in disabled


def enabled_plugin_names(disabled: set[str] | None = None) -> list[str]:
    """Loaded plugins that the current company has on, in load order (``disabled``: the
    plugins it has off, when the caller already read them)."""
    if disabled is None:
        disabled = _disabled_names()
    return [
        p.name for p in get_manager().plugins.values() if p.is_loaded and is_enabled(p, disabled)
    ]


def kpis(disabled: set[str] | None = None) -> dict[str, tuple[str, KPI]]:
    """KPI key -> (plugin name, KPI) for the plugins the current company has on."""
    enabled = set(enabled_plugin_names(disabled))
    return {key: entry for key, entry in get_manager().kpis.items() if entry[0] in enabled}


def connectors() -> dict[str, tuple[str, Connector]]:
    """Connector key -> (plugin name, Connector) for the plugins the current company has on."""
    enabled = set(enabled_plugin_names())
    return {key: entry for key, entry in get_manager().connectors.items() if entry[0] in enabled}


def notification_channels() -> dict[str, tuple[str, NotificationChannel]]:
    """Channel key -> (plugin name, channel) for the plugins the current company has on."""
    enabled = set(enabled_plugin_names())
    return {
        key: entry
        for key, entry in get_manager().notification_channels.items()
        if entry[0] in enabled
    }


def all_plugins() -> list[PluginStatus]:
    """Every installed plugin, whatever its state, with this company's setting and errors."""
    disabled = _disabled_names()
    errors: dict[str, list[RecordedError]] = {}
    if _in_company():
        from kpiplatform.plugins.models import PluginError

        for row in PluginError.objects.all()[:200]:
            bucket = errors.setdefault(row.plugin, [])
            if len(bucket) < RECENT_ERRORS_PER_PLUGIN:
                bucket.append(RecordedError(row.hook, row.message, row.traceback, row.occurred_at))
    return [
        PluginStatus(plugin, is_enabled(plugin, disabled), errors.get(plugin.name, []))
        for plugin in get_manager().plugins.values()
    ]


def plugin_status(name: str) -> PluginStatus:
    for status in all_plugins():
        if status.name == name:
            return status
    raise UnknownPlugin(f"No plugin named {name!r} is installed.")


def set_enabled(name: str, enabled: bool, changed_by=None) -> PluginStatus:
    """Switch a plugin on or off for the current company."""
    from kpiplatform.plugins.models import PluginSetting

    plugin = get_manager().plugins.get(name)
    if plugin is None:
        raise UnknownPlugin(f"No plugin named {name!r} is installed.")
    if not enabled and plugin.tier == Tier.ESSENTIAL:
        raise EssentialPlugin(f"{name} is an essential plugin and cannot be disabled.")
    PluginSetting.objects.update_or_create(
        plugin=name,
        defaults={"enabled": enabled, "changed_by": changed_by, "changed_at": timezone.now()},
    )
    return plugin_status(name)


def record_error(plugin: str, hook: str, outcome: Outcome) -> None:
    """Keep a plugin's failure for the company's admins (logged in any case)."""
    logger.error(
        "plugin %s failed in %s (schema %s): %s",
        plugin,
        hook,
        connection.schema_name,
        outcome.message,
        exc_info=outcome.error,
    )
    if not _in_company():
        return
    from kpiplatform.plugins.models import PluginError

    try:
        with transaction.atomic():
            PluginError.objects.create(
                plugin=plugin,
                hook=hook[:200],
                message=outcome.message,
                traceback=outcome.traceback,
            )
            older = PluginError.objects.filter(plugin=plugin).values_list("id", flat=True)
            PluginError.objects.filter(id__in=list(older[KEPT_ERRORS_PER_PLUGIN:])).delete()
    except Exception:  # recording must never turn a plugin's failure into ours
        logger.exception("could not record the failure of plugin %s", plugin)


class _PluginFailed(Exception):
    """Leaves the plugin's transaction with the plugin's failure, rolling its work back."""

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


@contextlib.contextmanager
def _plugin_transaction():
    """Where plugin code runs: in a company, in a transaction of its own (a savepoint inside
    the caller's) under the company's database role, so its SQL reads that company only; in
    the public schema, in a savepoint when the caller has a transaction."""
    if _in_company():
        with transaction.atomic(), roles.company_role():
            yield
    elif connection.in_atomic_block:
        with transaction.atomic():
            yield
    else:
        yield


def call_plugin(
    plugin_name: str,
    fn: Callable[..., Any],
    *args: Any,
    hook: str,
    record: bool = True,
    **kwargs: Any,
):
    """Run a plugin's code; on an exception, record it against the plugin and carry on.

    Returns a :class:`PluginCall`: ``ok`` and the value, or ``ok=False`` and the error in
    words. In a company the code runs in a transaction of its own (a savepoint inside the
    caller's), under the company's database role (``kpiplatform.tenants.roles``): its SQL
    sees that company's data only, and a failed statement rolls back the plugin's work alone,
    leaving the caller's transaction usable. ``hook`` names what was called (a hook name, or
    e.g. ``"compute:mrr"`` for a KPI's compute). A caller whose own transaction the failure
    rolls back passes ``record=False`` and records it afterwards with :func:`record_failure`
    (a record written inside that transaction would be rolled back with it).
    """
    try:
        with _plugin_transaction():
            outcome = run_isolated(fn, *args, **kwargs)
            if not outcome.ok:
                raise _PluginFailed(outcome)
    except _PluginFailed as failed:
        outcome = failed.outcome
    except SoftTimeLimitExceeded:
        raise  # the task's time limit (see run_isolated)
    except Exception as exc:  # the transaction failed around it: the plugin broke it
        outcome = Outcome(False, error=exc, traceback=traceback.format_exc())
    if not outcome.ok:
        if record:
            record_error(plugin_name, hook, outcome)
        return PluginCall(
            plugin_name,
            hook,
            False,
            error=outcome.message,
            exception=outcome.error,
            traceback=outcome.traceback,
        )
    return PluginCall(plugin_name, hook, True, value=outcome.value)


def record_failure(call: PluginCall) -> None:
    """Record the failure of a call made with ``record=False``, for the company's admins."""
    record_error(
        call.plugin, call.hook, Outcome(False, error=call.exception, traceback=call.traceback)
    )


def call_hook(hook_name: str, **kwargs: Any) -> list[PluginCall]:
    """Call every enabled plugin's implementation of a hook, one by one, isolating failures."""
    enabled = set(enabled_plugin_names())
    calls = []
    for plugin_name, impl in get_manager().implementations(hook_name):
        if plugin_name not in enabled:
            continue
        args = [kwargs[name] for name in impl.argnames]
        calls.append(call_plugin(plugin_name, impl.function, *args, hook=hook_name))
    return calls


def notify_kpi_values_updated(keys: Iterable[str]) -> list[PluginCall]:
    """Tell the current company's plugins that these KPIs have new values."""
    return call_hook(
        "kpi_values_updated", schema_name=connection.schema_name, keys=sorted(set(keys))
    )
