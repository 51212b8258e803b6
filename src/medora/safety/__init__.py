"""Deterministic safety checks that run on a question before retrieval.

``check_red_flags`` spots a question that describes an emergency happening now and gives the
notice to show; ``redact_phi`` removes personal identifiers before the question is searched,
and ``user_notice`` says what was removed.
"""

from medora.safety.phi import PhiResult, redact_phi, user_notice
from medora.safety.redflags import CrisisResource, RedFlagResult, check_red_flags

__all__ = ["CrisisResource", "PhiResult", "RedFlagResult", "check_red_flags", "redact_phi", "user_notice"]
