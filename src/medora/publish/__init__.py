"""Publishing and review: answers saved as versioned articles, reviewed by an advisory board.

``PublishingService`` holds the article workflow (``workflow.TRANSITIONS``), reviewer edits,
diffs and staleness; ``Accounts`` holds users and API tokens; ``audit`` the append-only log.
The editorial policy the workflow implements is ``editorial_policy.md`` in this package.
"""

from medora.publish.actors import SYSTEM, Actor
from medora.publish.service import PublishingService, mark_stale_for_documents
from medora.publish.users import Accounts

__all__ = ["SYSTEM", "Accounts", "Actor", "PublishingService", "mark_stale_for_documents"]
