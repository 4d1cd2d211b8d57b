"""Connecting accounts from the terminal and keeping them connected: where secrets live (``secrets``),
OAuth token refresh (``tokens``), the per-platform connect flows (``connect_*``)."""
