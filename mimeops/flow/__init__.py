"""Flows: rules with conditions, ops and actions, loaded from YAML or JSON."""

from mimeops.errors import FlowError
from mimeops.flow.core import Envelope, Flow, Result, Rule
from mimeops.flow.loader import load_flow

__all__ = ["Envelope", "Flow", "FlowError", "Result", "Rule", "load_flow"]
