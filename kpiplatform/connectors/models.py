"""Connections to data sources and their sync runs (one company's schema)."""

from __future__ import annotations

from django.db import models

from kpiplatform.connectors import secrets


class Connection(models.Model):
    """A company's connection to one connector (a plugin's ``sdk.Connector``).

    ``config`` holds the connector's declared non-secret fields; the secret ones are kept only
    encrypted (``secrets_encrypted``) and are never returned, shown or logged. ``state`` is
    the connector's cursor, stored with each page written. The records it brings carry
    ``source`` (the connector key): one connection per connector in a company.
    """

    class Health(models.TextChoices):
        OK = "ok"
        FAILING = "failing"
        NEEDS_CREDENTIALS = "needs_credentials", "needs new credentials"

    connector = models.CharField(max_length=100, unique=True)
    name = models.CharField(max_length=200, blank=True, default="")
    config = models.JSONField(default=dict, blank=True)
    secrets_encrypted = models.TextField(blank=True, default="")
    # Minutes between scheduled syncs; 0 syncs only when asked ("sync now").
    schedule_minutes = models.PositiveIntegerField(default=60)
    state = models.JSONField(default=dict, blank=True)
    health = models.CharField(max_length=20, choices=Health.choices, default=Health.OK)
    health_reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:  # never the secrets
        return f"connection {self.pk} ({self.connector})"

    @property
    def source(self) -> str:
        return self.connector

    def secret_values(self) -> dict:
        return secrets.decrypt(self.secrets_encrypted)

    def set_secrets(self, values: dict) -> None:
        self.secrets_encrypted = secrets.encrypt({k: v for k, v in values.items() if v})

    def full_config(self) -> dict:
        """What the connector's ``check`` and ``sync`` receive: config and secrets."""
        return {**self.config, **self.secret_values()}


class SyncRun(models.Model):
    """One sync of a connection: queued, then running, then succeeded or failed."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    # manual, schedule, webhook (a delivery), settings (a new time zone)
    trigger = models.CharField(max_length=20, default="manual")
    queued_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Updated with each page: a run that stays "running" long after it is a dead worker's.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    # dataset -> {"read": n, "written": n, "deleted": n}
    counts = models.JSONField(default=dict, blank=True)
    progress = models.CharField(max_length=500, blank=True, default="")
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-id"]
        constraints = [
            # At most one queued or running sync per connection.
            models.UniqueConstraint(
                fields=["connection"],
                condition=models.Q(status__in=["queued", "running"]),
                name="one_active_sync_per_connection",
            )
        ]

    def __str__(self) -> str:
        return f"sync {self.pk} of connection {self.connection_id}: {self.status}"


class Disconnection(models.Model):
    """A disconnect that deletes what the connection brought, under way or stopped on an error.

    Asked for under the connection's sync lease; from then on no sync of the connection
    starts. The task ``remove_connection`` purges the connection's source from every dataset,
    in bounded batches, each committed with the counts here, then deletes the connection (and
    so this row). A failed removal keeps this row with the reason; asking again resumes it.
    """

    class Status(models.TextChoices):
        REMOVING = "removing"
        FAILED = "failed"

    connection = models.OneToOneField(
        Connection, on_delete=models.CASCADE, related_name="disconnection"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.REMOVING)
    asked_at = models.DateTimeField(auto_now_add=True)
    # Updated with each batch: a removal not heard from for long lost its task (the tick
    # sends it again).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Datasets purged completely, in the order of ``kpiplatform.data.models.DATASETS``.
    datasets_done = models.PositiveIntegerField(default=0)
    datasets_total = models.PositiveIntegerField(default=0)
    # dataset -> live records deleted so far
    deleted = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"disconnection of connection {self.connection_id}: {self.status}"


class SourceObject(models.Model):
    """An upstream object a connection's connector derived records from (SDK 1.4
    ``SyncPage.source_objects``), kept so the records can be derived again without asking the
    upstream. Written by the platform with the page; read back by the connector (read-only)
    through ``sdk.stored_source_objects``. The company's read-only role may read this table."""

    # No index of its own: the unique constraint's (connection, kind, external id) serves
    # lookups by connection, and each object written updates one index fewer.
    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="source_objects", db_index=False
    )
    kind = models.CharField(max_length=64)
    external_id = models.CharField(max_length=255)
    # The id it is found by besides its own (an invoice's subscription): "" when none.
    parent = models.CharField(max_length=255, blank=True, default="")
    payload = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "kind", "external_id"], name="one_source_object_per_id"
            )
        ]
        indexes = [
            models.Index(fields=["connection", "kind", "parent"], name="source_object_by_parent")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.external_id} of connection {self.connection_id}"


class WebhookEndpoint(models.Model):
    """The unguessable address at which a connection receives its upstream's webhooks
    (``/webhooks/<token>/`` on the company host), made when an admin first asks for it."""

    connection = models.OneToOneField(
        Connection, on_delete=models.CASCADE, related_name="webhook_endpoint"
    )
    token = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:  # never the token
        return f"webhook address of connection {self.connection_id}"


class WebhookEvent(models.Model):
    """A webhook delivery accepted for a connection, by the upstream's event id: deliveries
    are at least once, so a second delivery of the same event finds it here and does nothing."""

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="webhook_events"
    )
    event_id = models.CharField(max_length=255)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "event_id"], name="one_webhook_event_per_id"
            )
        ]

    def __str__(self) -> str:
        return f"webhook event {self.event_id} of connection {self.connection_id}"
