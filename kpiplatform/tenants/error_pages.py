"""The 404 and 403 handlers of every host (urls.py and urls_public.py name them).

Django's own handlers render the same templates, but would name the company to anyone who
mistypes an address on its host: only its login page may do that for a stranger, so these
show the company only to its logged-in members. The 500 page stays Django's
(``templates/500.html`` rendered without a request).
"""

from __future__ import annotations

from django.shortcuts import render


def page_not_found(request, exception):
    message = exception.args[0] if exception.args else ""
    return _render(request, "404.html", message if isinstance(message, str) else "", 404)


def permission_denied(request, exception):
    return _render(request, "403.html", str(exception), 403)


def _render(request, template: str, message: str, status: int):
    context = {"request_path": request.path, "exception": message}
    user = getattr(request, "user", None)  # absent when the host itself is unknown
    if not (user and user.is_authenticated):
        context["company"] = None  # overrides the context processor's company
    return render(request, template, context, status=status)
