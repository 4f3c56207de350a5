"""The flow's `fallback`: what happens to mail a warning rule matched when no warned
output WorkMail accepts can be made.

A rule that matches and warns (a banner, a subject tag) never ends in mail delivered
unwarned. When the full rewrite cannot be made, the flow tries lesser warned rewrites
(a text part in front, the message attached whole, the subject tag alone); when none
of them can be delivered either, this action is taken instead:

    fallback: junk        # MOVE_TO_JUNK for every recipient (inbound); outbound: deliver
    fallback: deliver     # today's behaviour: the message goes out unchanged
    fallback: bounce      # BOUNCE for every recipient
    fallback: {inbound: junk, outbound: bounce}   # per direction

Junk exists only for inbound mail (WorkMail has no junk folder on the way out), so
`junk` means `deliver` for outbound mail. Recipients a rule already bounces or drops
keep that action.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mimeops.errors import FlowError
from mimeops.flow import actions
from mimeops.flow.actions import Action, ActionType, RecipientAction
from mimeops.mail.template import Template

ACTIONS = ("junk", "deliver", "bounce")
BOUNCE_TEXT = ("Message rejected: it could not be delivered with the notice the "
               "recipient's organization adds to mail.")


class Rung(StrEnum):
    """Where the ladder ended when the full rewrite could not go out warned: a lesser
    rewrite, or (the last three) the flow's fallback action."""

    #: A text part with the banner in front of each body the banner could not enter.
    FRONT = "front"
    #: The message attached whole to a new one with the banner.
    WRAP = "wrap"
    #: The subject tag (and the other header transforms) alone.
    HEADERS = "headers"
    #: The message as received, MOVE_TO_JUNK.
    JUNK = "junk"
    #: The message as received, BOUNCE.
    BOUNCE = "bounce"
    #: The message as received, delivered unwarned (the flow asked for it).
    DELIVER = "deliver"

    @property
    def is_action(self) -> bool:
        """The flow's fallback action, not a lesser rewrite."""
        return self in (Rung.JUNK, Rung.BOUNCE, Rung.DELIVER)


_TYPES = {Rung.JUNK: ActionType.MOVE_TO_JUNK, Rung.BOUNCE: ActionType.BOUNCE}


@dataclass(frozen=True)
class Fallback:
    """The fallback action per direction."""

    inbound: str = "junk"
    outbound: str = "deliver"

    def action(self, direction: str) -> Rung:
        """JUNK, BOUNCE or DELIVER for mail in `direction`."""
        if direction == "INBOUND":
            return Rung(self.inbound)
        return Rung.DELIVER if self.outbound == "junk" else Rung(self.outbound)

    def response(self, direction: str, assigned: Mapping[str, Action],
                 blanket: Action | None,
                 values: Mapping[str, str]) -> tuple[RecipientAction, ...]:
        """What each recipient gets: the fallback action for every recipient whose action
        was DEFAULT (or BYPASS_SPAM_CHECK); a bounce or drop a rule chose stays."""
        kind = _TYPES.get(self.action(direction))
        if kind is None:
            return actions.decide(dict(assigned), blanket, values)
        taken = Action(kind, Template(BOUNCE_TEXT, "fallback")
                       if kind is ActionType.BOUNCE else None)
        kept = {r: a if a.type in actions.STOPPING else taken for r, a in assigned.items()}
        everyone = blanket if blanket is not None and blanket.type in actions.STOPPING \
            else taken
        return actions.decide(kept, everyone, values)


def parse(spec: Any, where: str) -> Fallback:
    """`fallback:` from a flow file: one action for both directions, or a mapping."""
    if isinstance(spec, str):
        return Fallback(_one(spec, where, ACTIONS), _one(spec, where, ACTIONS))
    if isinstance(spec, dict):
        unknown = set(spec) - {"inbound", "outbound"}
        if unknown:
            raise FlowError(f"{where}: unknown field {sorted(unknown)[0]!r} "
                            "(expected: inbound, outbound)")
        return Fallback(_one(spec.get("inbound", "junk"), f"{where}.inbound", ACTIONS),
                        _one(spec.get("outbound", "deliver"), f"{where}.outbound",
                             ("deliver", "bounce")))
    raise FlowError(f"{where}: expected junk, deliver or bounce, or a mapping with inbound "
                    f"and outbound, got {type(spec).__name__}")


def _one(value: Any, where: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        hint = " (WorkMail has no junk for outbound mail)" if value == "junk" else ""
        raise FlowError(f"{where}: expected {', '.join(allowed)}, got {value!r}{hint}")
    return str(value)
