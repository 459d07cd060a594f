"""Hooks of the HubSpot connector (registered once the connector is built)."""
