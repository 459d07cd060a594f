"""Test helpers for kpiplatform and for plugin authors (a pytest plugin).

Installed with kpiplatform and loaded by pytest through the ``pytest11`` entry point. It gives
two standing companies, ``acme`` and ``globex``, created once per test session, each with
named users of every role, so a plugin test or a cross-company test is one line::

    def test_my_kpi(acme):
        with acme.activate():
            ...
        response = acme.client("viewer").get("/api/v1/me/")
"""
