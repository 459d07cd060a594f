"""The Google Analytics 4 connector of kpiplatform."""
