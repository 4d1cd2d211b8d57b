"""The use cases people start from the CLI (pause, publish now, cancel, apply...), as library functions.

Each takes plain arguments (the database or config, ids, who acts, ``now``), returns a result dataclass and
raises PlannerError with the catalogue message when it refuses. It never prints: the CLI parses the
arguments, calls one function here and prints the result.
"""
