"""Known-source registry and verified fetching, against a real local HTTP mirror of the shared sources."""

from __future__ import annotations

import shutil
import socket
import threading
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from medora.errors import SourceError
from medora.sources.fetch import file_sha256, resolve_files
from medora.sources.readers.registry import READERS
from medora.sources.registry import KnownSource, get_source, list_sources

MIRRORED = ("pubmed", "dailymed")


@dataclass
class Mirror:
    """A local HTTP server serving a sources-folder layout; knobs to make it misbehave."""

    root: Path
    url: str = ""
    requests: list[str] = field(default_factory=list)
    truncate: bool = False
    fail_status: int | None = None


class _Handler(SimpleHTTPRequestHandler):
    mirror: Mirror

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output quiet
        pass

    def do_GET(self) -> None:
        self.mirror.requests.append(self.path)
        if self.mirror.fail_status is not None:
            self.send_error(self.mirror.fail_status)
            return
        super().do_GET()

    def copyfile(self, source, outputfile) -> None:  # type: ignore[no-untyped-def]
        body = source.read()
        # Content-Length was already sent for the whole file: sending half, then closing, is a truncation.
        outputfile.write(body[: len(body) // 2] if self.mirror.truncate else body)


def _copy_source(source: KnownSource, shared_sources: Path, dest_root: Path) -> None:
    for file in source.files:
        target = dest_root / file.relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared_sources / file.relpath, target)


def _flip_byte(path: Path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture()
def mirror(tmp_path: Path, shared_sources: Path) -> Iterator[Mirror]:
    state = Mirror(root=tmp_path / "mirror")
    for name in MIRRORED:
        _copy_source(get_source(name), shared_sources, state.root)
    handler = type("Handler", (_Handler,), {"mirror": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(state.root)))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _download(name: str, mirror: Mirror, cache: Path, **kwargs: object) -> list[Path]:
    return resolve_files(get_source(name), sources_dir=None, cache_dir=cache, base_url=mirror.url, **kwargs)


# --- downloads ---------------------------------------------------------------------------------


def test_download_writes_verified_files_and_reports_progress(mirror: Mirror, tmp_path: Path) -> None:
    source = get_source("dailymed")
    cache = tmp_path / "cache"
    events: list[tuple[str, int, int]] = []
    paths = _download("dailymed", mirror, cache, progress=lambda *event: events.append(event))

    assert paths == [cache / "dailymed" / f.relpath for f in source.files]
    for path, file in zip(paths, source.files):
        assert path.stat().st_size == file.size
        assert file_sha256(path) == file.sha256
    assert sorted(mirror.requests) == sorted(f"/{f.relpath}" for f in source.files)
    last_event = {relpath: (done, total) for relpath, done, total in events}
    assert last_event == {f.relpath: (f.size, f.size) for f in source.files}
    assert _files_under(cache) == sorted(paths)  # no temporary files left beside them


def test_second_call_downloads_nothing_and_a_damaged_cache_file_is_refetched(mirror: Mirror, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _download("pubmed", mirror, cache)
    assert len(mirror.requests) == 1

    assert _download("pubmed", mirror, cache) == first
    assert len(mirror.requests) == 1

    first[0].write_bytes(b"damaged")
    _download("pubmed", mirror, cache)
    assert len(mirror.requests) == 2
    assert file_sha256(first[0]) == get_source("pubmed").files[0].sha256


def test_truncated_download_fails_and_leaves_nothing(mirror: Mirror, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    mirror.truncate = True
    with pytest.raises(SourceError, match=r"pubmed/pubmed-29768149\.xml .*incomplete.*10,876 of 21,752 bytes"):
        _download("pubmed", mirror, cache)
    assert _files_under(cache) == []


def test_altered_file_fails_checksum_and_leaves_nothing(mirror: Mirror, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    pinned = get_source("pubmed").files[0]
    _flip_byte(mirror.root / pinned.relpath)
    with pytest.raises(SourceError, match="does not match the pinned version") as info:
        _download("pubmed", mirror, cache)
    assert pinned.relpath in str(info.value) and pinned.sha256 in str(info.value)
    assert _files_under(cache) == []

    [path] = _download("pubmed", mirror, cache, verify=False)
    assert path.read_bytes() == (mirror.root / pinned.relpath).read_bytes()


@pytest.mark.parametrize("status", [404, 500])
def test_http_error_is_reported_clearly(mirror: Mirror, tmp_path: Path, status: int) -> None:
    cache = tmp_path / "cache"
    mirror.fail_status = status
    with pytest.raises(SourceError, match=rf"cannot download pubmed/pubmed-29768149\.xml from .*: HTTP {status}"):
        _download("pubmed", mirror, cache)
    assert _files_under(cache) == []


def test_missing_file_on_mirror_is_a_404(mirror: Mirror, tmp_path: Path) -> None:
    (mirror.root / "dailymed-spl" / "viagra.xml").unlink()
    with pytest.raises(SourceError, match=r"dailymed-spl/viagra\.xml .*HTTP 404"):
        _download("dailymed", mirror, tmp_path / "cache")


def test_unreachable_server_suggests_local_sources(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SourceError, match="cannot reach 127.0.0.1.*MEDORA_SOURCES_DIR or --from"):
        resolve_files(get_source("pubmed"), sources_dir=None, cache_dir=tmp_path, base_url=f"http://127.0.0.1:{port}")
    assert _files_under(tmp_path) == []


# --- local sources folder ----------------------------------------------------------------------


def test_sources_dir_resolves_every_source_without_downloading(shared_sources: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for source in list_sources():
        paths = resolve_files(source, sources_dir=shared_sources, cache_dir=cache)
        assert paths == [shared_sources / f.relpath for f in source.files]
    assert not cache.exists()


def test_sources_dir_rejects_a_changed_copy_unless_told_not_to_verify(shared_sources: Path, tmp_path: Path) -> None:
    source = get_source("pubmed")
    _copy_source(source, shared_sources, tmp_path)
    local = tmp_path / source.files[0].relpath
    _flip_byte(local)
    with pytest.raises(SourceError, match=r"local copy of .*pubmed-29768149\.xml differs .*--no-verify"):
        resolve_files(source, sources_dir=tmp_path, cache_dir=tmp_path / "cache")
    assert resolve_files(source, sources_dir=tmp_path, cache_dir=tmp_path / "cache", verify=False) == [local]


def test_sources_dir_missing_file_names_path_and_expectation(shared_sources: Path, tmp_path: Path) -> None:
    source = get_source("pmc")
    _copy_source(source, shared_sources, tmp_path)
    (tmp_path / "pmc" / "pone.0046493.nxml").unlink()
    with pytest.raises(SourceError, match=r"pmc/pone\.0046493\.nxml not found: source 'pmc' expects .*117,544 bytes"):
        resolve_files(source, sources_dir=tmp_path, cache_dir=tmp_path / "cache")
    with pytest.raises(SourceError, match="does not exist"):
        resolve_files(source, sources_dir=tmp_path / "nowhere", cache_dir=tmp_path / "cache")


# --- registry ----------------------------------------------------------------------------------


def test_unknown_source_name_lists_known_names() -> None:
    with pytest.raises(SourceError) as info:
        get_source("medqaud")
    message = str(info.value)
    assert "medqaud" in message
    for name in ("medquad", "uspstf", "pubmedqa", "dailymed", "pubmed", "pmc"):
        assert name in message
    assert get_source("MedQuAD").name == "medquad"


def test_registry_pins_match_the_real_files(shared_sources: Path) -> None:
    sources = list_sources()
    assert [s.name for s in sources] == ["medquad", "uspstf", "pubmedqa", "dailymed", "pubmed", "pmc",
                                         "openfda-labels", "openfda-common", "medlineplus", "medpix"]
    relpaths = [f.relpath for s in sources for f in s.files]
    assert len(relpaths) == len(set(relpaths)) == 18
    for source in sources:
        assert source.format in READERS, source.name
        for file in source.files:
            path = shared_sources / file.relpath
            assert path.stat().st_size == file.size, file.relpath
            assert file_sha256(path) == file.sha256, file.relpath
            assert file.url.startswith("https://"), file.relpath


def test_medquad_carries_its_required_credit() -> None:
    medquad = get_source("medquad")
    assert medquad.license == "CC BY 4.0"
    assert "Ben Abacha A, Demner-Fushman D" in medquad.attribution
    assert "BMC Bioinformatics 2019;20:511" in medquad.attribution
