"""What happens to one file: the single decision the daemon acts on, and what the ledger stores.

The handler decides one `Disposition` per attempt (`handling.decide`) and acts on it in one
place; the ledger stores its value as the file's outcome. Three more values are states the
ledger records that are not decisions: WORKING (intent recorded, the copy being written or
the file being read: a crash there is not retried forever), BASELINE (there before the
first start, recorded and not cleaned) and PAUSED (arrived during `safeshare pause`).
"""

from __future__ import annotations

from enum import Enum


class Disposition(Enum):
    PUBLISHED = "published"  # a clean copy is in the output folder
    RETRY_INPUT = "retry-input"  # the input looks unfinished (empty, truncated): try again soon
    RETRY_OUTPUT = "retry-output"  # the copy could not be written (disk full, folder gone): later
    DUPLICATE = "duplicate"  # same content and settings as a file already handled
    SKIPPED = "skipped"  # not a picture (a video, a document): noted, not reported
    REFUSED = "refused"  # cannot be cleaned (damaged, unsupported, too large): reported
    FAILED = "failed"  # an error of ours or an output that did not verify: reported
    WORKING = "working"  # ledger only: being handled
    BASELINE = "baseline"  # ledger only: there before the first start
    PAUSED = "paused"  # arrived while the user had paused safeshare: noted, not cleaned

    @property
    def final(self) -> bool:
        """An unchanged file with this outcome is never looked at again."""
        return self in FINAL

    @classmethod
    def from_ledger(cls, text: str) -> Disposition:
        """The outcome stored in a ledger row (older ledgers said 'cleaned')."""
        return cls(LEGACY.get(text, text))


FINAL = frozenset(
    {
        Disposition.PUBLISHED,
        Disposition.DUPLICATE,
        Disposition.SKIPPED,
        Disposition.REFUSED,
        Disposition.BASELINE,
        Disposition.PAUSED,
    }
)
LEGACY = {"cleaned": "published"}
