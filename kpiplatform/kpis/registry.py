"""Where the engine gets its KPI definitions from.

Kept to one function so the platform's plugin manager can replace the discovery below (a bare
pluggy manager over the ``kpiplatform`` entry points) without touching the engine.
"""

from __future__ import annotations

import functools
import logging

import pluggy

from kpiplatform.sdk import KPI, PROJECT_NAME

logger = logging.getLogger(__name__)

_hookspec = pluggy.HookspecMarker(PROJECT_NAME)


class _KPISpec:
    @_hookspec
    def register_kpis(self) -> list[KPI]:
        """KPI definitions of a plugin."""


@functools.cache
def registered_kpis_by_plugin() -> dict[str, tuple[KPI, str]]:
    """Every KPI of the installed plugins with the name of the plugin that defines it, by key
    (the first plugin to claim a key wins). A plugin whose hook raises is logged and skipped.
    """
    manager = pluggy.PluginManager(PROJECT_NAME)
    manager.add_hookspecs(_KPISpec)
    manager.load_setuptools_entrypoints(PROJECT_NAME)
    kpis: dict[str, tuple[KPI, str]] = {}
    for impl in reversed(manager.hook.register_kpis.get_hookimpls()):
        try:
            definitions = impl.function()
        except Exception:
            logger.exception("plugin %s failed to register its KPIs", impl.plugin_name)
            continue
        for kpi in definitions or []:
            kpis.setdefault(kpi.key, (kpi, impl.plugin_name))
    return kpis


def registered_kpis() -> dict[str, KPI]:
    """Every KPI of the installed plugins, by key."""
    return {key: kpi for key, (kpi, _) in registered_kpis_by_plugin().items()}
