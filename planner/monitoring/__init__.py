"""Step five of the strategy: metrics over time, KPIs, listening for mentions, reports."""
