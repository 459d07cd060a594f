"""One error body for every API failure: ``{"error": {"code", "message", "fields"?}}``."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.views import exception_handler as drf_exception_handler


def _first_message(detail) -> str:
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        inner = _first_message(value)
        return inner if key == "non_field_errors" else f"{key}: {inner}"
    return str(detail)


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        error = {
            "code": "invalid",
            "message": _first_message(exc.detail),
            "fields": exc.detail
            if isinstance(exc.detail, dict)
            else {"non_field_errors": exc.detail},
        }
    elif isinstance(exc, exceptions.APIException):
        detail = exc.detail
        error = {
            "code": getattr(detail, "code", None) or exc.default_code,
            "message": _first_message(detail),
        }
    else:
        error = {"code": "error", "message": str(exc)}
    response.data = {"error": error}
    return response
