"""The Celery app and the two kinds of task every task must be one of.

- ``@tenant_task``: runs in the schema of the company that enqueued it (tenant-schemas-celery
  carries the schema in a message header, the worker switches to it before the task and back
  afterwards). It refuses to run in the public schema: fail closed.
- ``@platform_task``: runs in the public schema on purpose (signup pool, the periodic tick that
  fans work out to companies). Saying so explicitly is the point.

A test checks that every registered task is one or the other.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from django.db import connection
from tenant_schemas_celery.app import CeleryApp
from tenant_schemas_celery.task import TenantTask

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kpiplatform.settings")


class PublicSchemaRefused(RuntimeError):
    """A tenant task was about to run with no company schema selected."""


class CompanyTask(TenantTask):
    """Base of ``@tenant_task``: refuses to run outside a company schema."""

    abstract = True
    kind = "tenant"
    # Set (``@tenant_task(fan_out_minutes=60)``) to have the periodic tick enqueue the task
    # for every active company at that interval.
    fan_out_minutes: int | None = None
    # With ``fan_out_minutes``: a function from the active companies' schema names to those
    # the tick enqueues the task for (by default, every one).
    fan_out_to: Callable[[list[str]], list[str]] | None = None

    def __call__(self, *args, **kwargs):
        if connection.schema_name == "public":
            raise PublicSchemaRefused(
                f"task {self.name} touches company data but was enqueued from the public schema"
            )
        return super().__call__(*args, **kwargs)


class PlatformTask(TenantTask):
    """Base of ``@platform_task``: runs in the public schema."""

    abstract = True
    kind = "platform"

    def __call__(self, *args, **kwargs):
        connection.set_schema_to_public()
        return super().__call__(*args, **kwargs)


app = CeleryApp("kpiplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # The one periodic entry: it finds due work across companies and fans it out.
    "tick": {"task": "kpiplatform.tenants.tasks.tick", "schedule": 60.0},
}


def tenant_task(*args, **kwargs):
    """Declare a task that works inside the enqueuing company's schema."""
    kwargs.setdefault("base", CompanyTask)
    if kwargs.get("fan_out_to") is not None:
        # A plain function as a class attribute would be bound as a method of the task.
        kwargs["fan_out_to"] = staticmethod(kwargs["fan_out_to"])
    return app.task(*args, **kwargs)


def platform_task(*args, **kwargs):
    """Declare a task that works across companies, from the public schema."""
    kwargs.setdefault("base", PlatformTask)
    return app.task(*args, **kwargs)


def registered_tasks() -> dict[str, object]:
    """Every task of the project (Celery's own ``celery.*`` left out), all modules imported."""
    from django.apps import apps

    # Imports each app's ``tasks`` module. Not ``loader.import_default_modules()``: inside a
    # worker that re-runs django.setup(), which replaces Celery's logging configuration.
    app.loader.autodiscover_tasks([config.name for config in apps.get_app_configs()])
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def fan_out_tasks() -> list[CompanyTask]:
    """The company tasks the periodic tick enqueues for every active company."""
    return [
        task
        for task in registered_tasks().values()
        if isinstance(task, CompanyTask) and task.fan_out_minutes
    ]
