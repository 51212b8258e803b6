"""The password policy: long enough, not common, not guessable from the account, and strong by estimate.

A password must have 10 to 1024 characters, not all blank; must not contain the username (nor the
username contain it); must not be on the common-password list that ships with ``zxcvbn`` (30,000
passwords from real breaches, maintained with the package, not typed in here); and ``zxcvbn``'s
guess estimate, told the username and display name, must rate it at least 3 of 4 ("safely
unguessable"). Each refusal says what to change, never what the password was.
"""

from __future__ import annotations

from functools import lru_cache

from medora.publish.errors import InvalidInput

MIN_CHARS = 10
MAX_CHARS = 1024
MIN_SCORE = 3  # zxcvbn: 3 = "safely unguessable: moderate protection from offline slow-hash scenario"
_ESTIMATE_CHARS = 100  # zxcvbn's cost grows with length; the first 100 characters decide its estimate


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password(password: str | None, username: str, display_name: str = "") -> None:
    """Refuse a password the policy does not allow (``InvalidInput`` saying why)."""
    password = password or ""
    if not MIN_CHARS <= len(password) <= MAX_CHARS:
        raise InvalidInput(f"a password needs {MIN_CHARS} to {MAX_CHARS} characters")
    if not password.strip():
        raise InvalidInput("a password cannot be only spaces")
    folded, name = password.casefold(), username.casefold()
    if name and (name in folded or folded in name):
        raise InvalidInput("a password must not contain the username")
    if folded in common_passwords() or folded.strip() in common_passwords():
        raise InvalidInput("this password is on a list of common passwords; choose another")
    from zxcvbn import zxcvbn

    estimate = zxcvbn(password[:_ESTIMATE_CHARS], user_inputs=[username, *display_name.split(), "medora"])
    if estimate["score"] < MIN_SCORE:
        hint = (estimate.get("feedback") or {}).get("warning") or "it is too easy to guess"
        raise InvalidInput(f"this password is too weak ({hint.rstrip('.')}); a few unrelated words make a "
                           "strong one")
