"""A connection's fields, checked and saved: the one set of rules of the API and the pages.

A connector declares its form (``config_fields``); the values of its ``secret`` fields go to
``secrets`` (encrypted, never returned), the others to ``config``. Both the REST API and the
connection pages call :func:`check_values` and then :func:`create` or :func:`update`, so a
value one of them refuses the other refuses with the same words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from kpiplatform.connectors import sync
from kpiplatform.connectors.models import Connection
from kpiplatform.connectors.secrets import SecretsUnreadable
from kpiplatform.sdk import ConfigField

# Minutes between scheduled syncs: 0 (only when asked) or between these bounds.
SCHEDULE_MIN_MINUTES = 5
SCHEDULE_MAX_MINUTES = 7 * 24 * 60


@dataclass(frozen=True)
class Problem:
    """What is wrong with one value: where it was sent (``config``/``secrets``), its name."""

    target: str
    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.name}: {self.message}"


@dataclass
class Checked:
    """The connection's config and secrets once the request's values are merged in."""

    config: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def fields_of(connector_key: str) -> tuple[ConfigField, ...]:
    """The connector's declared fields (``sync.UnknownConnector`` if no plugin provides it)."""
    return sync.connector_for(connector_key)[1].config_fields


def readable_secrets(connection: Connection | None) -> dict:
    """The stored secrets, or none when no key decrypts them (a lost key): the admin sets
    them again, the required ones being asked for."""
    if connection is None:
        return {}
    try:
        return connection.secret_values()
    except SecretsUnreadable:
        return {}


def check_values(
    fields: tuple[ConfigField, ...],
    config: dict[str, Any],
    secrets: dict[str, Any],
    connection: Connection | None = None,
) -> Checked:
    """Merge ``config`` and ``secrets`` over what ``connection`` stores and say what is wrong.

    A secret given as ``""`` or ``None`` clears it (refused if required); one left out keeps
    its stored value.
    """
    by_name = {f.name: f for f in fields}
    secret_names = {n for n, f in by_name.items() if f.kind == "secret"}
    problems: list[Problem] = []
    for name in sorted(set(config) - (set(by_name) - secret_names)):
        where = "it is a secret: send it in secrets" if name in secret_names else "unknown"
        problems.append(Problem("config", name, f"{where}."))
    for name in sorted(set(secrets) - secret_names):
        problems.append(Problem("secrets", name, "not a secret field of this connector."))
    for name, value in config.items():
        known = name in by_name and name not in secret_names
        if known and (message := _wrong_type(by_name[name], value)):
            problems.append(Problem("config", name, message))
    for name, value in secrets.items():
        if name in secret_names and value is not None and not isinstance(value, str):
            problems.append(Problem("secrets", name, "must be a string."))
    merged_config = {**(connection.config if connection else {}), **config}
    merged_secrets = {**readable_secrets(connection), **secrets}
    merged_secrets = {k: v for k, v in merged_secrets.items() if v not in (None, "")}
    for name, declared in by_name.items():
        secret = name in secret_names
        given = merged_secrets.get(name) if secret else merged_config.get(name)
        if declared.required and given in (None, ""):
            target = "secrets" if secret else "config"
            problems.append(Problem(target, name, f"required ({declared.label})."))
    return Checked(
        config={k: v for k, v in merged_config.items() if k in by_name},
        secrets={k: v for k, v in merged_secrets.items() if k in secret_names},
        problems=problems,
    )


def _wrong_type(declared: ConfigField, value: Any) -> str:
    if value is None:
        return ""
    if declared.kind == "boolean":
        return "" if isinstance(value, bool) else "must be true or false."
    if declared.kind == "choice":
        allowed = [key for key, _label in declared.choices]
        if value not in allowed:
            return f"{value!r} is not one of {', '.join(map(repr, allowed))}."
        return ""
    return "" if isinstance(value, str) else "must be a string."


def schedule_problem(minutes: int) -> str:
    """Why ``minutes`` is not a schedule ("" when it is one)."""
    if minutes == 0 or SCHEDULE_MIN_MINUTES <= minutes <= SCHEDULE_MAX_MINUTES:
        return ""
    return (
        f"0 (only when asked) or between {SCHEDULE_MIN_MINUTES} and {SCHEDULE_MAX_MINUTES} "
        "minutes (a week)."
    )


class AlreadyConnected(ValueError):
    """The company has a connection to this connector already (one per connector)."""

    def __init__(self) -> None:
        super().__init__("This company already has a connection to this connector.")


def create(
    connector: str, checked: Checked, name: str = "", schedule_minutes: int = 60
) -> Connection:
    connection = Connection(
        connector=connector, name=name, config=checked.config, schedule_minutes=schedule_minutes
    )
    connection.set_secrets(checked.secrets)
    if Connection.objects.filter(connector=connector).exists():
        raise AlreadyConnected
    try:
        with transaction.atomic():
            connection.save()
    except IntegrityError:  # created meanwhile by another request
        raise AlreadyConnected from None
    return connection


def update(connection: Connection, checked: Checked, **changes: Any) -> Connection:
    """Store the checked config and secrets and ``changes`` (``name``, ``schedule_minutes``).

    New secrets clear "needs new credentials": the schedule tries them again. Only these
    columns are written: a sync running meanwhile stores the cursor (state) and the health,
    which a full save would put back to what this request read.
    """
    new_secrets = checked.secrets != readable_secrets(connection)
    for attr, value in changes.items():
        setattr(connection, attr, value)
    connection.config = checked.config
    connection.set_secrets(checked.secrets)
    fields = [*changes, "config", "secrets_encrypted", "updated_at"]
    if new_secrets and connection.health == Connection.Health.NEEDS_CREDENTIALS:
        connection.health, connection.health_reason = Connection.Health.OK, ""
        fields += ["health", "health_reason"]
    connection.save(update_fields=fields)
    return connection
