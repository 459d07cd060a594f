"""Saving channels and rules, for the API and the pages alike (one place for the checks)."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from kpiplatform import plugins
from kpiplatform.alerts.evaluate import evaluate
from kpiplatform.alerts.models import Channel, Rule
from kpiplatform.goals.validation import target_errors
from kpiplatform.sdk import NotificationChannel


class Invalid(ValueError):
    """Field -> message problems of a channel or a rule."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def channel_types() -> dict[str, tuple[str, NotificationChannel]]:
    """Channel key -> (plugin, channel) of the plugins this company has on."""
    return dict(sorted(plugins.notification_channels().items()))


def _channel_type(kind: str) -> NotificationChannel:
    entry = channel_types().get(kind)
    if entry is None:
        raise Invalid(
            {"kind": f"No channel type {kind!r}; use one of {', '.join(channel_types())}."}
        )
    return entry[1]


def secret_names(kind: str) -> set[str]:
    return {f.name for f in _channel_type(kind).config_fields if f.kind == "secret"}


def save_channel(
    channel: Channel | None, name: str, kind: str, config: dict, secrets: dict, user=None
) -> Channel:
    """Create or change a channel: plain fields in ``config``, secret ones in ``secrets``
    (left out on a change: kept). The channel type's ``validate`` runs on the whole
    configuration, so a webhook URL of a private address is refused here."""
    if channel is not None and kind != channel.kind:
        raise Invalid({"kind": "A channel's type cannot change; add another channel."})
    channel_type = _channel_type(kind)
    fields = {f.name: f for f in channel_type.config_fields}
    hidden = {n for n, f in fields.items() if f.kind == "secret"}
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "Give the channel a name."
    for key in set(config) - (set(fields) - hidden):
        errors["config"] = (
            f"{key}: {'a secret, send it in secrets' if key in hidden else 'unknown'}."
        )
    for key in set(secrets) - hidden:
        errors["secrets"] = f"{key}: not a secret field of {kind}."
    kept = channel.secret_values() if channel is not None else {}
    plain = {k: str(v).strip() for k, v in config.items() if k in fields}
    hidden_values = {**kept, **{k: str(v) for k, v in secrets.items() if v not in ("", None)}}
    for key, field in fields.items():
        given = hidden_values.get(key) if key in hidden else plain.get(key)
        if field.required and not given:
            errors["secrets" if key in hidden else "config"] = f"{key}: required ({field.label})."
    if not errors:
        try:
            channel_type.validate({**plain, **hidden_values})
        except ValueError as exc:
            errors["config"] = str(exc)
    if errors:
        raise Invalid(errors)
    channel = channel or Channel(kind=kind, created_by=user)
    channel.name = name.strip()
    channel.config = plain
    channel.set_secret_values(hidden_values)
    channel.save()
    return channel


DEFINING = ("kpi_key", "grain", "segment_kind", "segment_value", "condition", "threshold")


def rule_errors(values: dict) -> dict[str, str]:
    _, errors = target_errors(
        values["kpi_key"],
        values["grain"],
        values.get("segment_kind", ""),
        values.get("segment_value", ""),
    )
    condition = values.get("condition")
    if condition not in Rule.Condition.values:
        errors["condition"] = f"Use one of {', '.join(Rule.Condition.values)}."
    elif condition != Rule.Condition.BEHIND_GOAL and values.get("threshold") is None:
        errors["threshold"] = "This condition needs a number."
    elif condition in ("change_percent", "change_points") and values["threshold"] < 0:
        errors["threshold"] = "A change is measured as a size: give a number of 0 or more."
    if not str(values.get("name", "")).strip():
        errors["name"] = "Give the rule a name."
    return errors


def save_rule(rule: Rule | None, values: dict, channels: list[Channel] | None, user=None) -> Rule:
    """Create or change a rule, then evaluate it against the stored values at once: a new
    rule whose condition already holds fires now, not at the next recompute."""
    current = {f: getattr(rule, f) for f in ("name", *DEFINING)} if rule is not None else {}
    merged = {"segment_kind": "", "segment_value": "", **current, **values}
    if merged.get("threshold") is not None:
        merged["threshold"] = Decimal(merged["threshold"])
    errors = rule_errors(merged)
    if errors:
        raise Invalid(errors)
    redefined = rule is not None and any(merged[f] != current[f] for f in DEFINING)
    with transaction.atomic():
        rule = rule or Rule(created_by=user)
        for field, value in merged.items():
            setattr(rule, field, value)
        if redefined:
            rule.firing = False  # a new condition starts from "not holding"
        rule.save()
        if channels is not None:
            rule.channels.set(channels)
        evaluate(rule_ids=[rule.id])
    rule.refresh_from_db()
    return rule
