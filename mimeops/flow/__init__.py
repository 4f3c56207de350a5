"""Flows: rules with conditions, ops and actions, loaded from YAML or JSON."""

from mimeops.flow.core import Envelope, Flow, Result, Rule
from mimeops.flow.errors import FlowError
from mimeops.flow.loader import load_flow

__all__ = ["Envelope", "Flow", "FlowError", "Result", "Rule", "load_flow"]
