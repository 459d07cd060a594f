"""Goals: a target for a KPI per period of a grain (optionally per segment).

Pages, the API, alerts, reports and dashboard cards read goals through
``kpiplatform.goals.progress``.
"""
