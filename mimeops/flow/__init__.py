"""Flows: rules with conditions, ops and actions, loaded from YAML or JSON."""

from mimeops.errors import FlowError
from mimeops.flow.core import Flow, Result, Rule
from mimeops.flow.loader import load_flow
from mimeops.mail import Envelope

__all__ = ["Envelope", "Flow", "FlowError", "Result", "Rule", "load_flow"]
