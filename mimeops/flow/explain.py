"""Why each rule of a flow did or did not match one message (`mimeops explain`).

It runs `Flow.apply` itself, the very run `mimeops apply` makes, with an observer on
the evaluator: one line per rule (matched with the values that held, or the first
condition that did not hold and the values it compared; for a matched rule, what its
ops changed, or why they changed nothing), then the JSON summary `apply` prints.
"""

from __future__ import annotations

from mimeops.flow.core import FAILED, INACTIVE, MATCHED, Flow, Result, Rule
from mimeops.mail import Envelope

_STATES = {FAILED: "not matched", INACTIVE: "not active", MATCHED: "matched"}
_ACTIONS = {"junk": "moved to Junk", "bounce": "bounced", "deliver": "delivered unchanged"}


def explain(flow: Flow, raw: bytes, envelope: Envelope) -> list[str]:
    """One line per rule, in flow order; the last line is `apply`'s summary."""
    seen: list[tuple[Rule, str, str]] = []

    def observe(rule: Rule, status: str, why: str) -> None:
        seen.append((rule, status, why))

    result = flow.apply(raw, envelope, observe=observe)
    return [_line(rule, status, why, result) for rule, status, why in seen] \
        + [result.summary_line()]


def _line(rule: Rule, status: str, why: str, result: Result) -> str:
    name = f"{rule.name} [audit]" if rule.audit else rule.name
    line = f"{name}: {_STATES.get(status, 'not evaluated')}: {why}"
    if status != MATCHED:
        return line
    effects = ", ".join(e.partition(":")[2] for e in rule.effects())
    verb = "would apply (audit: nothing is changed)" if rule.audit else "applies"
    line += f" -> {verb} {effects}"
    if rule.audit or not rule.ops:
        return line
    return line + f"; {_outcome(rule, result)}"


def _outcome(rule: Rule, result: Result) -> str:
    """What the rule's ops did in this run, or why they did nothing."""
    changed = [a.partition(":")[2] for a in result.applied if a.partition(":")[0] == rule.name]
    how = f" ({result.fallback} fallback)" if result.fallback in ("front", "wrap", "headers") \
        else ""
    if changed:
        left = f"; body left alone: {result.skipped}" if result.skipped else ""
        return f"changed {', '.join(changed)}{how}{left}"
    if result.fallback in _ACTIONS:
        return (f"changed nothing: {result.skipped}; fallback: "
                f"{_ACTIONS[result.fallback]}")
    if result.skipped:
        return f"changed nothing: {result.skipped}"
    return "changed nothing: already processed (its marker verifies) or nothing to do"
