"""The plugin manager: the one place that loads plugins and calls their code.

Plugins are installed distributions with entry points in the group ``kpiplatform``
(docs/plugins.md). The rest of the platform reaches them only through this module::

    from kpiplatform import plugins

    for key, (plugin_name, kpi) in plugins.kpis().items():
        call = plugins.call_plugin(plugin_name, kpi.compute, context, periods,
                                   hook=f"compute:{key}")

Loading and validation are process-wide (``manager``); what a company sees, its settings and
the errors recorded in its schema are company-wide (``registry``). Apart from
``kpiplatform.sdk`` and ``kpiplatform.hookspecs``, nothing else imports pluggy.
"""

from kpiplatform.plugins.manager import (
    InstalledPlugin,
    PluginManager,
    PluginProblem,
    PluginState,
    get_manager,
)
from kpiplatform.plugins.registry import (
    EssentialPlugin,
    PluginCall,
    PluginStatus,
    UnknownPlugin,
    all_plugins,
    call_hook,
    call_plugin,
    connectors,
    enabled_plugin_names,
    kpis,
    notification_channels,
    notify_kpi_values_updated,
    plugin_status,
    record_failure,
    set_enabled,
)

__all__ = [
    "EssentialPlugin",
    "InstalledPlugin",
    "PluginCall",
    "PluginManager",
    "PluginProblem",
    "PluginState",
    "PluginStatus",
    "UnknownPlugin",
    "all_plugins",
    "call_hook",
    "call_plugin",
    "connectors",
    "enabled_plugin_names",
    "get_manager",
    "kpis",
    "notification_channels",
    "notify_kpi_values_updated",
    "plugin_status",
    "record_failure",
    "set_enabled",
]
