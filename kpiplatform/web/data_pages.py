"""The data pages: every dataset with its record count, a dataset's records with the read
API's filters, its column template and example file, and the upload of a CSV or JSON file
with a preview before anything is written.

The upload is checked by ``importing.check_file`` (the import's own validation, writing
nothing) and written by ``importing.import_file``, the same path as
``POST /api/v1/data/<dataset>/``. Between the preview and the write the file waits on disk
under ``<KPI_VAR_DIR>/uploads/<company schema>/<random id>.<csv|json>``, and the id is kept in
the uploader's session: a file is found only by the session that uploaded it, on its own
company's host.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from kpiplatform.accounts.decorators import role_required
from kpiplatform.accounts.models import Role
from kpiplatform.data import importing
from kpiplatform.data.examples import example_csv, template_csv
from kpiplatform.data.filters import RefusedFilter, filterset_for
from kpiplatform.data.models import DATASETS

PAGE_SIZE = 50
PREVIEW_ROWS = 10
# A previewed file not written within this long is deleted (by the company's next upload).
KEEP_UPLOADS_S = 24 * 3600
SESSION_KEY = "data_uploads"  # {random id: {"dataset": ..., "format": ..., "name": ...}}


def _model(dataset: str):
    if dataset not in DATASETS:
        raise Http404(f"Unknown dataset {dataset!r}.")
    return DATASETS[dataset]


def _columns(model) -> list[str]:
    return [field.name for field in model._meta.concrete_fields]


@login_required
def data_list(request):
    """Every dataset with its number of live (not deleted) records."""
    datasets = [
        {"name": name, "count": model.objects.filter(deleted_at__isnull=True).count()}
        for name, model in DATASETS.items()
    ]
    return render(request, "web/data_list.html", {"datasets": datasets})


@login_required
def data_browse(request, dataset: str):
    """The dataset's records in id order, filtered as ``GET /api/v1/data/<dataset>/``."""
    model = _model(dataset)
    filterset = filterset_for(dataset)(request.GET, queryset=model.objects.order_by("id"))
    columns = _columns(model)
    valid = filterset.is_valid()
    own = [n for n, f in filterset.filters.items() if not isinstance(f, RefusedFilter)]
    records = filterset.qs.values_list(*columns) if valid else model.objects.none()
    page = Paginator(records, PAGE_SIZE).get_page(request.GET.get("page"))
    # Days and moments as the files and the API write them (ISO 8601), not localised.
    page.object_list = [[_shown(value) for value in row] for row in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "dataset": dataset,
        "columns": columns,
        "page": page,
        "filterset": filterset,
        # Only the dataset's own filters are fields; the others exist to refuse a value.
        "filter_fields": [(_filter_label(name, model), filterset.form[name]) for name in own],
        "other_errors": [
            f"{name}: {error}"
            for name, errors in (filterset.errors if not valid else {}).items()
            if name not in own
            for error in errors
        ],
        "query": query.urlencode(),
        "date_field": model.date_field,
        "can_upload": request.user.has_role(Role.ADMIN),
    }
    return render(request, "web/data_browse.html", context, status=200 if valid else 400)


def _filter_label(name: str, model) -> str:
    if name == "from":
        return f"From {model.date_field} (first day)"
    if name == "to":
        return f"To {model.date_field} (last day)"
    return name.replace("_", " ").capitalize()


def _shown(value):
    return value.isoformat() if isinstance(value, dt.date) else value


def _csv_attachment(text: str, filename: str) -> HttpResponse:
    response = HttpResponse(text, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
def data_template(request, dataset: str):
    _model(dataset)
    return _csv_attachment(template_csv(dataset), f"{dataset}_template.csv")


@login_required
def data_example(request, dataset: str):
    _model(dataset)
    return _csv_attachment(example_csv(dataset), f"{dataset}_example.csv")


def _upload_path(upload_id: str, file_format: str) -> Path:
    # The company's schema is part of the path: an id alone never reaches another company.
    folder = Path(settings.VAR_DIR) / "uploads" / connection.schema_name
    return folder / f"{upload_id}.{file_format}"


def _forget_old_uploads(folder: Path) -> None:
    too_old = time.time() - KEEP_UPLOADS_S
    for old in folder.iterdir():
        try:
            if old.stat().st_mtime < too_old:
                old.unlink()
        except FileNotFoundError:
            pass  # written or deleted meanwhile by another request


def _file_format(upload) -> str:
    is_json = upload.name.lower().endswith(".json") or upload.content_type == "application/json"
    return "json" if is_json else "csv"


def _preview(request, dataset: str, context: dict, status: int) -> HttpResponse:
    checked = context.get("checked")
    records = checked.first_records if checked else []
    shown = [c for c in _columns(DATASETS[dataset]) if any(c in record for record in records)]
    context = {
        "dataset": dataset,
        "preview_columns": shown,
        "preview_rows": [[_shown(record.get(c)) for c in shown] for record in records],
        **context,
    }
    return render(request, "web/data_preview.html", context, status=status)


@require_POST
@role_required(Role.ADMIN)
def data_upload(request, dataset: str):
    """Keep the uploaded file and show its first rows and every row error; nothing written."""
    _model(dataset)
    upload = request.FILES.get("file")
    if upload is None:
        return _preview(request, dataset, {"problem": "Choose a CSV or JSON file."}, 400)
    limit = settings.KPI_IMPORT_MAX_BYTES
    if upload.size > limit:
        problem = str(importing.FileTooLarge(limit))
        return _preview(request, dataset, {"problem": problem}, 413)
    file_format = _file_format(upload)
    upload_id = secrets.token_urlsafe(18)
    path = _upload_path(upload_id, file_format)
    path.parent.mkdir(parents=True, exist_ok=True)
    _forget_old_uploads(path.parent)
    with path.open("wb") as kept:
        for chunk in upload.chunks():
            kept.write(chunk)
    with path.open("rb") as stream:
        checked = importing.check_file(dataset, stream, file_format, limit, keep=PREVIEW_ROWS)
    context = {"checked": checked, "name": upload.name}
    if not checked.ok:
        path.unlink(missing_ok=True)  # it can never be written
        return _preview(request, dataset, context, 400)
    uploads = request.session.get(SESSION_KEY, {})
    uploads[upload_id] = {"dataset": dataset, "format": file_format, "name": upload.name}
    request.session[SESSION_KEY] = uploads
    context["upload_id"] = upload_id
    return _preview(request, dataset, context, 200)


@require_POST
@role_required(Role.ADMIN)
def data_write(request, dataset: str, upload_id: str):
    """Write a previewed file through the API's import path, then forget it."""
    _model(dataset)
    uploads = request.session.get(SESSION_KEY, {})
    kept = uploads.get(upload_id)
    if kept is None or kept["dataset"] != dataset:
        raise Http404("This upload is not waiting to be written: upload the file again.")
    path = _upload_path(upload_id, kept["format"])
    try:
        with path.open("rb") as stream:
            counts = importing.import_file(
                dataset, stream, kept["format"], settings.KPI_IMPORT_MAX_BYTES
            )
    except FileNotFoundError:
        raise Http404("This upload is no longer kept: upload the file again.") from None
    except importing.ImportRefused as refused:
        checked = importing.CheckedFile([], 0, refused.errors, refused.truncated)
        return _preview(request, dataset, {"checked": checked, "name": kept["name"]}, 400)
    finally:
        uploads.pop(upload_id, None)
        request.session[SESSION_KEY] = uploads
    path.unlink(missing_ok=True)
    messages.success(
        request,
        f"{kept['name']} written to {dataset}: {counts.inserted} new, {counts.updated} "
        f"updated, {counts.unchanged} unchanged. The KPIs are being recomputed.",
    )
    return redirect(reverse("data-page", args=[dataset]))
