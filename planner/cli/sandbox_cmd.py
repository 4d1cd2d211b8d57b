"""`planner sandbox serve`: the local platform emulator, for demos and trying things out."""

from __future__ import annotations

import typer

from planner.cli.common import console
from planner.i18n import t

app = typer.Typer(no_args_is_help=True)


@app.command("serve", help=t("help.sandbox_serve"))
def serve(
    port: int = typer.Option(8787, "--port", help=t("help.opt_port")),
    latency_ms: float = typer.Option(0, "--latency-ms", help=t("help.opt_latency")),
    fault_rate: float = typer.Option(0, "--fault-rate", min=0, max=1, help=t("help.opt_fault_rate")),
    seed: int = typer.Option(0, "--seed", help=t("help.opt_seed")),
) -> None:
    from planner.sandbox import Sandbox

    sandbox = Sandbox(port=port, latency_ms=latency_ms, fault_rate=fault_rate, seed=seed)
    out = console()
    out.print(t("sandbox.listening", url=sandbox.base_url,
                platforms=", ".join(e.name for e in sandbox.emulators)))
    out.print(t("sandbox.hint", url=sandbox.base_url))
    try:
        sandbox.serve_forever()
    except KeyboardInterrupt:
        out.print(t("sandbox.stopped"))
