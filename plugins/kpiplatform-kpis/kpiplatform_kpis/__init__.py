"""The built-in KPI library: every KPI of docs/kpis.md, computed in SQL."""
