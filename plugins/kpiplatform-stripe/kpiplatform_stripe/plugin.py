"""Hooks of the Stripe connector (registered once the connector is built)."""
