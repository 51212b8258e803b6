"""Errors Medora reports to users: each carries a clear, specific message (never a traceback)."""


class MedoraError(Exception):
    """Base class: the CLI prints ``str(error)`` and exits non-zero."""

    exit_code = 1


class ReaderError(MedoraError):
    """A source file could not be read. ``path`` names the file, the message says why."""

    def __init__(self, path: str, reason: str):
        self.path = str(path)
        # One line, always: parser messages may carry newlines or repeat the file name.
        self.reason = " ".join(str(reason).replace(self.path + ":", "").split()) or "unreadable"
        super().__init__(f"{self.path}: {self.reason}")


class LibraryError(MedoraError):
    """The library file is missing, locked, of another schema, or otherwise unusable."""


class SourceError(MedoraError):
    """A named source is unknown, or its download or local copy is unusable."""


class UsageError(MedoraError):
    """Bad arguments or input that the user can correct."""

    exit_code = 2
