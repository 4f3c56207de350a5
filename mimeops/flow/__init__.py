"""Flows: rules with conditions, ops and actions, loaded from YAML or JSON."""

from mimeops.errors import FlowError
from mimeops.flow.actions import ActionType, RecipientAction
from mimeops.flow.core import Flow, Result, Rule
from mimeops.flow.loader import load_flow
from mimeops.flow.reasons import Reason, Skip
from mimeops.mail import Envelope

__all__ = ["ActionType", "Envelope", "Flow", "FlowError", "Reason", "RecipientAction",
           "Result", "Rule", "Skip", "load_flow"]
