"""``/api/v1/data-warnings/``: the data-quality problems found while computing (admins).

Warnings are written by the derivations (a subscription segment or a payment in a currency
with no exchange rate for its day...) and removed when the data that caused them is fixed;
this endpoint only reads them.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from kpiplatform.accounts.models import Role
from kpiplatform.accounts.permissions import role_permission
from kpiplatform.facts.models import DataWarning


class DataWarningSerializer(serializers.ModelSerializer):
    """One data-quality warning: what kind, which record, which day, and the message."""

    class Meta:
        model = DataWarning
        fields = [
            "id",
            "kind",
            "dataset",
            "source",
            "external_id",
            "customer_ref",
            "day",
            "message",
            "created_at",
        ]
        read_only_fields = fields


@extend_schema(tags=["data"])
class DataWarningList(generics.ListAPIView):
    """Current data-quality warnings, newest first; filter by ``kind``, ``dataset``, ``source``."""

    serializer_class = DataWarningSerializer
    permission_classes = [role_permission(Role.ADMIN, to_read=True)]
    filterset_fields = ["kind", "dataset", "source"]
    queryset = DataWarning.objects.order_by("-created_at", "-id")
