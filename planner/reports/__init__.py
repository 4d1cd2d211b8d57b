"""Monitoring and evaluation reports: one model (model.py), several renderers."""

FORMATS = ("text", "html", "csv", "xlsx", "json")
