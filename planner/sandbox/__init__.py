"""Local emulator of the platform APIs the adapters use (demo, tests, benchmarks)."""

from planner.sandbox.server import Sandbox

__all__ = ["Sandbox"]
