"""Human-readable rendering of decisions for the terminal (rich).

The reason of a decision is printed whole on its own line, wrapped to the terminal: in
the panel's title it was cut at the panel's width, so an error's cause (which model,
which timeout and which setting raises it) was lost.
"""

from __future__ import annotations

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from supervisor.decision import Action, Decision

STYLE = {
    Action.ALLOW: "bold green",
    Action.REVISE: "bold yellow",
    Action.BLOCK: "bold red",
    Action.ESCALATE: "bold magenta",
    Action.ERROR: "bold red reverse",
}


def show_decision(console: Console, decision: Decision, *, title: str = "") -> None:
    """Print the action, what may be shown, the verdicts that matter and the record id."""
    if decision.input_decision is not None and decision.input_decision.action != Action.ALLOW:
        show_decision(console, decision.input_decision, title="input stage")
    action = decision.action
    header = f"[{STYLE[action]}]{action.upper()}[/] ({decision.stage} stage)"
    console.print(Panel(decision.output or "(empty)", title=title or header,
                        subtitle=f"record {decision.record_id}" if decision.record_id else None,
                        expand=False))
    if title:
        console.print(header)
    if decision.reason:
        console.print(Text("reason: " + decision.reason))  # whole, wrapped; never markup
    fired = [v for v in decision.verdicts if v.violated]
    if fired:
        table = Table("violated", "source", "confidence", "why", box=None)
        for v in fired:
            flag = " (flag)" if v.principle in decision.flags else ""
            table.add_row(v.principle + flag, v.source, f"{v.confidence:.2f}", v.rationale)
        console.print(table)
    for revision in decision.revisions:
        console.print(f"  revision {revision.round} ({revision.method}): "
                      + ", ".join(revision.principles))
    if decision.unevaluated:
        console.print("[yellow]not evaluated (no supervisor model configured):[/] "
                      + ", ".join(decision.unevaluated))
    checked = len(decision.verdicts)
    console.print(f"[dim]{checked} principles checked, {len(fired)} violated; "
                  f"{decision.usage.calls} model calls; "
                  f"{dict(decision.timings_ms).get('total', 0):.1f} ms[/]")
