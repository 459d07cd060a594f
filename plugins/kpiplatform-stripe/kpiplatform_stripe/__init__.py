"""The Stripe connector of kpiplatform."""
