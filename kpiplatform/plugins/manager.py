"""Discovery, start-up validation and registration of plugins (process level, no company).

A plugin is an installed distribution with entry points in the group ``kpiplatform``; each
entry point names a module (or object) holding hook implementations. At start-up every
plugin is imported and validated, the valid ones are registered with pluggy, and the
registration hooks (``register_kpis``, ...) are called once, implementation by
implementation, so one plugin's failure is recorded against it and the others still load.
"""

from __future__ import annotations

import importlib.metadata
import logging
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pluggy
from celery.exceptions import SoftTimeLimitExceeded
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from kpiplatform import hookspecs
from kpiplatform.sdk import (
    KPI,
    PROJECT_NAME,
    SDK_VERSION,
    Connector,
    NotificationChannel,
    Tier,
)

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = PROJECT_NAME
EXAMPLE_SDK_RANGE = ">=1.0,<2"

# Hooks called once at start-up; their results form the process-wide catalogues.
REGISTRATION_HOOKS: dict[str, type] = {
    "register_kpis": KPI,
    "register_connectors": Connector,
    "register_notification_channels": NotificationChannel,
}


class PluginState(StrEnum):
    OK = "ok"
    BROKEN = "broken"  # failed to import, to register, or a start-up hook raised
    INCOMPATIBLE = "incompatible"  # supports another SDK version: not loaded


@dataclass(frozen=True)
class PluginProblem:
    """Something wrong with a plugin found at start-up: where, what, and how to fix it."""

    hook: str  # "import", "validation", or the hook name
    message: str
    fix: str = ""
    traceback: str = ""


@dataclass
class InstalledPlugin:
    """One installed plugin distribution and what the platform made of it at start-up."""

    name: str
    version: str
    modules: list[str]
    tier: Tier = Tier.DEFAULT
    sdk_supports: str = ""
    state: PluginState = PluginState.OK
    problems: list[PluginProblem] = field(default_factory=list)
    kpi_keys: list[str] = field(default_factory=list)
    connector_keys: list[str] = field(default_factory=list)
    channel_keys: list[str] = field(default_factory=list)
    objects: list[Any] = field(default_factory=list, repr=False)
    # Registered with the hook system (its hooks run), even if a start-up hook then failed.
    is_loaded: bool = False

    @property
    def error(self) -> str:
        return self.problems[0].message if self.problems else ""

    @property
    def fix(self) -> str:
        return next((p.fix for p in self.problems if p.fix), "")

    def add_problem(self, problem: PluginProblem, state: PluginState = PluginState.BROKEN) -> None:
        self.problems.append(problem)
        if self.state == PluginState.OK:
            self.state = state


@dataclass(frozen=True)
class Outcome:
    """What calling plugin code gave: its value, or the exception it raised."""

    ok: bool
    value: Any = None
    error: BaseException | None = None
    traceback: str = ""

    @property
    def message(self) -> str:
        return describe(self.error) if self.error is not None else ""


def describe(error: BaseException) -> str:
    """The error's class and message; of a database error (psycopg's, or Django's around
    it), the server's message alone, without the statement and caret the traceback keeps."""
    text = str(error)
    database_error = error if hasattr(error, "diag") else error.__cause__
    primary = getattr(getattr(database_error, "diag", None), "message_primary", None)
    if primary:
        text = primary
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def run_isolated(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Outcome:
    """Call plugin code; catch any ``Exception`` and return it with its traceback.

    Generators are consumed inside the call, so errors raised while iterating are caught too.
    """
    try:
        value = fn(*args, **kwargs)
        if isinstance(value, Iterable) and hasattr(value, "__next__"):
            value = list(value)
    except SoftTimeLimitExceeded:
        raise  # the task's time limit, not the plugin's failure: it stops the task
    except Exception as exc:  # a plugin may raise anything; it must not break the caller
        return Outcome(False, error=exc, traceback=traceback.format_exc())
    return Outcome(True, value=value)


class PluginManager:
    """The one pluggy manager of the process, with what each plugin registered."""

    def __init__(self) -> None:
        self.hooks = pluggy.PluginManager(PROJECT_NAME)
        self.hooks.add_hookspecs(hookspecs)
        self.plugins: dict[str, InstalledPlugin] = {}
        self.kpis: dict[str, tuple[str, KPI]] = {}
        self.connectors: dict[str, tuple[str, Connector]] = {}
        self.notification_channels: dict[str, tuple[str, NotificationChannel]] = {}
        self._owner: dict[str, str] = {}  # pluggy registration name -> plugin name
        self._order: dict[str, int] = {}

    # --- loading --------------------------------------------------------------------------

    def load(self) -> None:
        """Find every installed plugin distribution and load it (see :meth:`load_plugins`)."""
        found: dict[str, tuple[str, list[importlib.metadata.EntryPoint]]] = {}
        for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = entry_point.dist
            name = dist.metadata["Name"] if dist is not None else entry_point.name
            version = dist.version if dist is not None else ""
            found.setdefault(name, (version, []))[1].append(entry_point)
        self.load_plugins(found)

    def load_plugins(
        self, found: dict[str, tuple[str, list[importlib.metadata.EntryPoint]]]
    ) -> None:
        """Import, validate and register plugins given as name -> (version, entry points).

        Never raises for a plugin's fault: problems are recorded on the plugin.
        """
        for name, (version, points) in found.items():
            self.plugins[name] = self._import(name, version, points)
        # Essential plugins first, then by name: the order decides who keeps a duplicate key.
        ordered = sorted(
            self.plugins.values(), key=lambda p: (p.tier != Tier.ESSENTIAL, p.name.lower())
        )
        self.plugins = {plugin.name: plugin for plugin in ordered}
        self._order = {name: index for index, name in enumerate(self.plugins)}
        for plugin in self.plugins.values():
            if plugin.state == PluginState.OK:
                self._register(plugin)
        for hook_name in REGISTRATION_HOOKS:
            self._collect(hook_name)
        for plugin in self.plugins.values():
            if plugin.state != PluginState.OK:
                logger.warning(
                    "plugin %s %s is %s: %s %s",
                    plugin.name,
                    plugin.version,
                    plugin.state,
                    plugin.error,
                    plugin.fix,
                )

    def _import(
        self, name: str, version: str, points: list[importlib.metadata.EntryPoint]
    ) -> InstalledPlugin:
        plugin = InstalledPlugin(name=name, version=version, modules=[p.value for p in points])
        if not name.strip():
            plugin.add_problem(
                PluginProblem("validation", "The distribution has no name.", "Set [project] name.")
            )
            return plugin
        try:
            Version(version)
        except InvalidVersion:
            plugin.add_problem(
                PluginProblem(
                    "validation",
                    f"Version {version!r} is not a valid version number.",
                    "Set [project] version to a PEP 440 version such as 1.0.0.",
                )
            )
            return plugin
        for point in points:
            outcome = run_isolated(point.load)
            if not outcome.ok:
                plugin.add_problem(
                    PluginProblem(
                        "import",
                        f"Importing {point.value} failed: {outcome.message}",
                        "Fix the error in the traceback, or uninstall the plugin; "
                        "it stays off until it imports.",
                        outcome.traceback,
                    )
                )
                return plugin
            plugin.objects.append(outcome.value)
        self._validate_declarations(plugin)
        return plugin

    def _validate_declarations(self, plugin: InstalledPlugin) -> None:
        """Read SDK_SUPPORTS and TIER from the plugin's modules (NetBox-style validation)."""
        ranges = [getattr(obj, "SDK_SUPPORTS", None) for obj in plugin.objects]
        declared = [r for r in ranges if r]
        if not declared:
            plugin.add_problem(
                PluginProblem(
                    "validation",
                    "The plugin does not say which SDK versions it supports.",
                    f"Add SDK_SUPPORTS = {EXAMPLE_SDK_RANGE!r} to {plugin.modules[0]} "
                    "(the versions of kpiplatform.sdk it was written for).",
                ),
                PluginState.INCOMPATIBLE,
            )
            return
        plugin.sdk_supports = ",".join(dict.fromkeys(str(r) for r in declared))
        try:
            supported = SpecifierSet(plugin.sdk_supports)
        except InvalidSpecifier:
            plugin.add_problem(
                PluginProblem(
                    "validation",
                    f"SDK_SUPPORTS {plugin.sdk_supports!r} is not a version range.",
                    f"Write it as a version specifier, e.g. SDK_SUPPORTS = {EXAMPLE_SDK_RANGE!r}.",
                ),
                PluginState.INCOMPATIBLE,
            )
            return
        if not supported.contains(SDK_VERSION, prereleases=True):
            plugin.add_problem(
                PluginProblem(
                    "validation",
                    f"{plugin.name} {plugin.version} supports SDK {supported}, "
                    f"but this kpiplatform provides SDK {SDK_VERSION}.",
                    f"Install a version of {plugin.name} that supports SDK {SDK_VERSION} "
                    f"(or a kpiplatform whose SDK matches {supported}); it stays off until then.",
                ),
                PluginState.INCOMPATIBLE,
            )
            return
        tiers = {str(getattr(obj, "TIER", Tier.DEFAULT)) for obj in plugin.objects}
        unknown = tiers - {t.value for t in Tier}
        if unknown:
            plugin.add_problem(
                PluginProblem(
                    "validation",
                    f"TIER {sorted(unknown)[0]!r} is not a tier.",
                    "Set TIER to 'essential' or 'default' (or leave it out for 'default').",
                )
            )
            return
        plugin.tier = Tier.ESSENTIAL if Tier.ESSENTIAL in tiers else Tier.DEFAULT

    def _register(self, plugin: InstalledPlugin) -> None:
        registered = []
        for module_name, obj in zip(plugin.modules, plugin.objects, strict=True):
            registration_name = f"{plugin.name}:{module_name}"
            try:
                self.hooks.register(obj, name=registration_name)
            except Exception as exc:  # pluggy's validation of hook signatures
                plugin.add_problem(
                    PluginProblem(
                        "validation",
                        f"{module_name} does not match the hook specifications: {describe(exc)}",
                        "Give each hook implementation only parameters of its specification "
                        "(see docs/plugins.md).",
                        traceback.format_exc(),
                    )
                )
                break
            registered.append(registration_name)
            self._owner[registration_name] = plugin.name
        if plugin.state == PluginState.OK:
            problem = self._check_hook_names(registered)
            if problem is not None:
                plugin.add_problem(problem)
        if plugin.state != PluginState.OK:
            for registration_name in registered:
                self.hooks.unregister(name=registration_name)
                del self._owner[registration_name]
            plugin.objects.clear()
        else:
            plugin.is_loaded = True

    def _check_hook_names(self, registration_names: list[str]) -> PluginProblem | None:
        for registration_name in registration_names:
            obj = self.hooks.get_plugin(registration_name)
            for caller in self.hooks.get_hookcallers(obj) or []:
                impls = [i for i in caller.get_hookimpls() if i.plugin is obj]
                if not caller.has_spec():
                    known = ", ".join(self.hook_names())
                    return PluginProblem(
                        "validation",
                        f"{registration_name.split(':', 1)[1]} implements {caller.name!r}, "
                        "which is not a kpiplatform hook.",
                        f"Rename it to one of: {known}.",
                    )
                if any(i.wrapper or i.hookwrapper for i in impls):
                    return PluginProblem(
                        "validation",
                        f"{caller.name} is declared as a hook wrapper.",
                        "Drop wrapper=True/hookwrapper=True: kpiplatform calls every "
                        "implementation on its own.",
                    )
        return None

    def _collect(self, hook_name: str) -> None:
        """Call a registration hook plugin by plugin and fill its catalogue."""
        expected = REGISTRATION_HOOKS[hook_name]
        catalogue, keys_attr = {
            "register_kpis": (self.kpis, "kpi_keys"),
            "register_connectors": (self.connectors, "connector_keys"),
            "register_notification_channels": (self.notification_channels, "channel_keys"),
        }[hook_name]
        for plugin_name, impl in self.implementations(hook_name):
            plugin = self.plugins[plugin_name]
            outcome = run_isolated(impl.function)
            if not outcome.ok:
                plugin.add_problem(
                    PluginProblem(
                        hook_name,
                        f"{hook_name} raised {outcome.message}",
                        "Fix the error in the traceback; the plugin's other hooks still run.",
                        outcome.traceback,
                    )
                )
                continue
            items = outcome.value if outcome.value is not None else []
            if not isinstance(items, list | tuple):
                items = [items]
            for item in items:
                key = getattr(item, "key", "")
                if not isinstance(item, expected) or not key:
                    plugin.add_problem(
                        PluginProblem(
                            hook_name,
                            f"{hook_name} returned {item!r}, not a {expected.__name__} with a key.",
                            f"Return a list of kpiplatform.sdk.{expected.__name__} instances.",
                        )
                    )
                    continue
                if key in catalogue:
                    owner = catalogue[key][0]
                    plugin.add_problem(
                        PluginProblem(
                            hook_name,
                            f"{expected.__name__} key {key!r} is already provided by {owner}; "
                            "this plugin's definition is ignored.",
                            "Rename the key (keys are unique across plugins).",
                        )
                    )
                    continue
                catalogue[key] = (plugin_name, item)
                getattr(plugin, keys_attr).append(key)

    def hook_names(self) -> list[str]:
        """Every hook of the contract (kpiplatform/hookspecs.py)."""
        return sorted(
            name
            for name, caller in vars(self.hooks.hook).items()
            if not name.startswith("_") and caller.has_spec()
        )

    # --- calling --------------------------------------------------------------------------

    def implementations(self, hook_name: str) -> list[tuple[str, pluggy.HookImpl]]:
        """(plugin name, implementation) of a hook, in plugin load order."""
        caller = getattr(self.hooks.hook, hook_name)
        impls = [(self._owner[i.plugin_name], i) for i in caller.get_hookimpls()]
        return sorted(impls, key=lambda pair: self._order[pair[0]])


_manager: PluginManager | None = None
_lock = threading.Lock()


def get_manager() -> PluginManager:
    """The process's plugin manager, loading every plugin on first use."""
    global _manager
    if _manager is None:
        with _lock:
            if _manager is None:
                manager = PluginManager()
                manager.load()
                _manager = manager
    return _manager
