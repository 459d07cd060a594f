"""kpiplatform: revenue KPIs for companies, self-hosted."""

__version__ = "0.1.0"
