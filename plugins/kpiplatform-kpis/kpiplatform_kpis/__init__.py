"""The built-in KPI library: every KPI of KPI-DEFINITIONS.md, computed in SQL."""
