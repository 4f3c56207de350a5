"""`mimeops preview`: a flow over real mailboxes, counted, with an HTML report."""

from mimeops.errors import SourceError, SourceFailure
from mimeops.preview.sources import Item, Opened, Sources, find
from mimeops.preview.tally import Outcome, Tally, run_one

__all__ = ["Item", "Opened", "Outcome", "SourceError", "SourceFailure", "Sources", "Tally",
           "find", "run_one"]
