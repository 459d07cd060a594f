"""Hooks of the Google Analytics 4 connector (registered once the connector is built)."""
