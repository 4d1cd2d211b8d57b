"""The project's error type: a message key and its values, rendered in the user's language."""

from __future__ import annotations


class PlannerError(Exception):
    """An error meant for the user. ``key`` names a message in planner/i18n; ``params`` fill it."""

    def __init__(self, key: str, /, **params):
        super().__init__(key)
        self.key = key
        self.params = params

    def render(self) -> str:
        from planner.i18n import t

        return t(self.key, **self.params)

    def __str__(self) -> str:
        return self.render()
