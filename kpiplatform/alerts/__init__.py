"""Alerts: rules on stored KPI values, evaluated after every recompute, delivered through
notification channels (the ``register_notification_channels`` hook)."""
