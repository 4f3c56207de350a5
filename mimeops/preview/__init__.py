"""`mimeops preview`: a flow over real mailboxes, counted, with an HTML report."""

from mimeops.errors import SourceError
from mimeops.preview.sources import Item, Sources, find
from mimeops.preview.tally import Outcome, Tally, run_one

__all__ = ["Item", "Outcome", "SourceError", "Sources", "Tally", "find", "run_one"]
