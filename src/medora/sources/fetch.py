"""Obtain the local files of a known source: from a local sources folder, or by a verified download.

Downloads go to ``cache_dir/<source>/<relpath>``. Each file is streamed into a temporary file
in the same folder while its sha256 is computed, checked against the pinned size and
checksum, and only then moved into place, so the cache never holds a partial or altered file
under its final name.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO, Callable
from urllib.parse import urlsplit

from medora import __version__
from medora.errors import SourceError
from medora.sources.registry import KnownSource, SourceFile

#: progress(relpath, bytes_done, bytes_total), called after every chunk written.
Progress = Callable[[str, int, int], None]

CHUNK_BYTES = 64 * 1024
TIMEOUT_S = 30.0
USER_AGENT = f"medora/{__version__}"
OFFLINE_HINT = "if this machine is offline, point MEDORA_SOURCES_DIR or --from at a folder holding"


def resolve_files(
    source: KnownSource,
    *,
    sources_dir: Path | None,
    cache_dir: Path,
    base_url: str | None = None,
    progress: Progress | None = None,
    verify: bool = True,
) -> list[Path]:
    """Local paths of all of ``source``'s files, in registry order.

    With ``sources_dir`` the files are taken from there (``sources_dir/relpath``); otherwise
    they are downloaded into the cache unless already there and intact. ``base_url`` replaces
    each file's upstream URL by ``base_url/relpath`` (a mirror with the same layout).
    ``verify=False`` accepts files whose checksum differs from the pinned one.
    """
    if sources_dir is not None:
        if not sources_dir.is_dir():
            raise SourceError(f"sources folder {sources_dir} does not exist or is not a folder")
        return [_local_file(source, sources_dir, file, verify) for file in source.files]
    return [_cached_file(source, cache_dir, file, base_url, progress, verify) for file in source.files]


def file_sha256(path: Path) -> str:
    """Hex sha256 of the file at ``path``."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1024 * 1024):
                digest.update(chunk)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    return digest.hexdigest()


def _local_file(source: KnownSource, sources_dir: Path, file: SourceFile, verify: bool) -> Path:
    path = sources_dir / file.relpath
    if not path.is_file():
        raise SourceError(
            f"{path} not found: source {source.name!r} expects {file.relpath} "
            f"({file.size:,} bytes, sha256 {file.sha256}) under {sources_dir}"
        )
    if verify:
        digest = file_sha256(path)
        if digest != file.sha256:
            raise SourceError(
                f"local copy of {path} differs from the pinned version (sha256 {digest}, expected "
                f"{file.sha256}); pass --no-verify to ingest it anyway"
            )
    return path


def _cached_file(
    source: KnownSource,
    cache_dir: Path,
    file: SourceFile,
    base_url: str | None,
    progress: Progress | None,
    verify: bool,
) -> Path:
    dest = cache_dir / source.name / file.relpath
    if dest.is_file() and (not verify or _is_intact(dest, file)):
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SourceError(f"cannot create cache folder {dest.parent}: {exc.strerror or exc}") from None
    url = f"{base_url.rstrip('/')}/{file.relpath}" if base_url else file.url
    _download(url, dest, file, progress, verify, source.note)
    return dest


def _is_intact(path: Path, file: SourceFile) -> bool:
    return path.stat().st_size == file.size and file_sha256(path) == file.sha256


def _download(url: str, dest: Path, file: SourceFile, progress: Progress | None, verify: bool, note: str) -> None:
    """Stream ``url`` into a temporary file next to ``dest``, check it, then move it into place."""
    try:
        fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    except OSError as exc:
        raise SourceError(f"cannot write to cache folder {dest.parent}: {exc.strerror or exc}") from None
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, size = _transfer(url, out, file, progress)
        if verify and (size != file.size or digest != file.sha256):
            raise SourceError(
                f"downloaded {file.relpath} from {url} does not match the pinned version (expected "
                f"{file.size:,} bytes, sha256 {file.sha256}; got {size:,} bytes, sha256 {digest})"
                + (f"; {note}" if note else "")
            )
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _transfer(url: str, out: BinaryIO, file: SourceFile, progress: Progress | None) -> tuple[str, int]:
    """Copy the body at ``url`` into ``out``; return its sha256 and size. Network trouble -> SourceError."""
    done = 0
    expected: int | None = None
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            expected = _content_length(response)
            total = expected if expected is not None else file.size
            while chunk := response.read(CHUNK_BYTES):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(file.relpath, done, total)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise SourceError(f"cannot download {file.relpath} from {url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        host = urlsplit(url).netloc or url
        raise SourceError(
            f"cannot reach {host} to download {file.relpath} ({exc.reason}); {OFFLINE_HINT} {file.relpath}"
        ) from None
    except http.client.IncompleteRead:
        raise SourceError(_truncated(file, url, done, expected)) from None
    except (http.client.HTTPException, OSError) as exc:
        raise SourceError(f"download of {file.relpath} from {url} failed after {done:,} bytes: {exc}") from None
    if expected is not None and done != expected:
        raise SourceError(_truncated(file, url, done, expected))
    return digest.hexdigest(), done


def _content_length(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Length")
    return int(value) if value is not None and value.strip().isdigit() else None


def _truncated(file: SourceFile, url: str, done: int, expected: int | None) -> str:
    of = f" of {expected:,}" if expected is not None else ""
    return f"download of {file.relpath} from {url} is incomplete: the connection closed after {done:,}{of} bytes"
