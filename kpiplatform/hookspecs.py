"""The plugin contract: every hook a plugin may implement, and nothing else.

Each docstring is the reference for its hook (the plugin author guide, docs/plugins.md, repeats
the signature and summary; a test keeps the two in step). Plugins implement hooks with
``kpiplatform.sdk.hookimpl``; only the plugin manager (``kpiplatform.plugins``) reads this module.

The platform calls every implementation on its own and isolates failures: an exception raised
by one plugin is recorded against that plugin and the other plugins' results still count.
"""

from __future__ import annotations

import pluggy

from kpiplatform.sdk import KPI, PROJECT_NAME, Connector, NotificationChannel

hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@hookspec
def register_kpis() -> list[KPI]:
    """Return the KPI definitions this plugin provides.

    Each KPI has a ``key`` unique across all installed plugins; when two plugins register the
    same key, the plugin loaded first keeps it and the conflict is recorded as an error of the
    other one. The KPI's ``compute`` is called later by the KPI engine, through the manager,
    so an exception in it is recorded against the plugin too.

    :returns: A list of :class:`kpiplatform.sdk.KPI` instances (an empty list is fine).

    All results are collected; the first result does not win (every plugin contributes).

    Added in 1.0.

    Runs at start-up, once per process, outside any company: the result must not depend on a
    company. Whether a company sees the KPIs depends on whether it has the plugin enabled.
    """


@hookspec
def register_connectors() -> list[Connector]:
    """Return the data-source connectors this plugin provides.

    A connector declares its configuration form (``config_fields``), ``check(config)`` to
    test credentials and ``sync(config, state)``, which yields pages of canonical records
    (``kpiplatform.sdk.SyncPage``), each with its cursor (changed in 1.3).
    Keys are unique across plugins, first registered wins.

    :returns: A list of :class:`kpiplatform.sdk.Connector` instances.

    All results are collected; the first result does not win.

    Added in 1.0.

    Runs at start-up, once per process, outside any company. ``check`` runs in a web request
    and ``sync`` in a Celery task, both in the company's schema.
    """


@hookspec
def register_notification_channels() -> list[NotificationChannel]:
    """Return the notification channels this plugin provides (e-mail, webhook, chat, ...).

    Alerts and reports deliver through channels; a channel declares its configuration form,
    ``validate(config)`` (since 1.4: raise ``ValueError`` with a message to refuse a
    configuration when a company saves it) and ``send(config, message)``, which raises when
    delivery fails (the platform retries with backoff and keeps a delivery log). Keys are
    unique across plugins, first registered wins.

    :returns: A list of :class:`kpiplatform.sdk.NotificationChannel` instances.

    All results are collected; the first result does not win.

    Added in 1.0.

    Runs at start-up, once per process, outside any company. ``send`` runs in a Celery task
    in the company's schema.
    """


@hookspec
def kpi_values_updated(schema_name: str, keys: list[str]) -> None:
    """Called after the KPI engine stored new values for a company.

    Use it to react to fresh numbers: push them to another system, warm a cache, notify.
    Only plugins the company has enabled are called. Keep it quick; queue slow work.

    :param schema_name: The company's schema, which is also the active schema during the call.
    :param keys: The keys of the KPIs whose values were recomputed, sorted.
    :returns: Nothing; a returned value is ignored.

    All implementations are called; there is no first result.

    Added in 1.0.

    Runs in a Celery task in the company's schema, after the recompute has committed.
    """
