"""The HubSpot connector of kpiplatform."""
