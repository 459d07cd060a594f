"""The HubSpot sandbox: a local fake of the CRM v3 API over a seed file (:mod:`.server`),
its command line (``python -m kpiplatform_hubspot.sandbox --port N --seed FILE``) and the
generator of a realistic company's CRM (:mod:`.generate`)."""

from kpiplatform_hubspot.sandbox.server import OBJECT_TYPES, SEARCH_CAP, Sandbox, iso

__all__ = ["OBJECT_TYPES", "SEARCH_CAP", "Sandbox", "iso"]
