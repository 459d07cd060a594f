from django.db import connection


def company(request):
    """The current company (None on the public host) for every template."""
    tenant = getattr(request, "tenant", None)
    is_public = tenant is None or connection.schema_name == "public"
    return {"company": None if is_public else tenant}
