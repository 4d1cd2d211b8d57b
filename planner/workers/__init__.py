"""Publishing on PostgreSQL with procrastinate workers (issue 15): `planner worker` on any number of machines.

- app.py: the procrastinate App, its tasks (one job per due post) and periodic tasks (once per cluster);
- jobs.py: deferring, moving and cancelling a post's job (campaign apply, post cancel, the sweep);
- publish.py: what a post's job does (the store's guarded claim, then the dispatcher's send);
- run.py: the worker process.

The outbox stays the truth: a job is only a wake-up for one post. Losing one is repaired by the sweep, and
running one twice is harmless because the claim is the store's guarded state change.
"""
