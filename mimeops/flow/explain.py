"""Why each rule of a flow did or did not match one message (`mimeops explain`).

It runs `Flow.evaluate` itself, the function `apply` uses, with an observer:
one line per rule, matched with the values that held, or the first condition
that did not hold and the values it compared.
"""

from __future__ import annotations

from mimeops.flow.core import FAILED, INACTIVE, MATCHED, Flow, Rule
from mimeops.mail import Envelope

_STATES = {FAILED: "not matched", INACTIVE: "not active", MATCHED: "matched"}


def explain(flow: Flow, raw: bytes, envelope: Envelope) -> list[str]:
    """One line per rule, in flow order."""
    lines: list[str] = []

    def observe(rule: Rule, status: str, why: str) -> None:
        name = f"{rule.name} [audit]" if rule.audit else rule.name
        line = f"{name}: {_STATES.get(status, 'not evaluated')}: {why}"
        if status == MATCHED:
            effects = ", ".join(e.partition(":")[2] for e in rule.effects())
            verb = "would apply (audit: nothing is changed)" if rule.audit else "applies"
            line += f" -> {verb} {effects}"
        lines.append(line)

    job = flow.read(raw, envelope)
    flow.evaluate(job.mail, job.context, observe)
    return lines
