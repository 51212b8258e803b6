"""The `medora eval answers` command: runs ``eval/answers.py`` and prints tables or JSON.

Register it on the ``eval`` group with ``eval_group.add_command(eval_answers)``; the module
imports nothing from ``medora.cli`` at load time, so the import can sit anywhere in cli.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich import box
from rich.console import Console
from rich.table import Table

from medora.answer.audience import AUDIENCES
from medora.eval.answers import MATCHERS, VERDICTS


@click.command("answers")
@click.argument("eval_dir", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option("--library", type=str, default=None,  # not a Path: it would turn postgresql:// into postgresql:/
              help="Library to answer from: a SQLite file or a postgresql:// URL (default: $MEDORA_LIBRARY, "
                   "$MEDORA_DATABASE_URL, the config file, or the per-user data dir).")
@click.option("--red-flags", "red_flags", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Labelled emergency questions (JSONL: question, emergency, category) for red-flag recall.")
@click.option("--matcher", type=click.Choice(MATCHERS), default="auto", show_default=True,
              help="Statement matcher: auto = MiniLM embeddings + lexical when MiniLM loads offline, else lexical.")
@click.option("--audiences", default=",".join(AUDIENCES), show_default=True, help="Comma-separated K-QA audiences.")
@click.option("--kqa-limit", type=click.IntRange(1), default=None, help="Only the first N K-QA questions.")
@click.option("--pubmedqa-limit", type=click.IntRange(1), default=None, help="Only the first N PubMedQA questions.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Output format.")
def eval_answers(eval_dir: Path, library: str | None, red_flags: Path | None, matcher: str, audiences: str,
                 kqa_limit: int | None, pubmedqa_limit: int | None, fmt: str) -> None:
    """Measure answer quality on the evaluation sets in EVAL_DIR (kqa-dev, pubmedqa-1k, liveqa-med-dev).

    \b
    K-QA: share of physicians' must-have statements an answer supports, per audience, with a
    matcher calibrated on the physicians' NLI labels; a contradiction proxy; questions the
    library could not answer. PubMedQA: accuracy of the yes/no verdict. Every answer's
    citations are checked against the library; reading grade per audience; red-flag recall
    and false alarms.

    \b
    Example:
      medora eval answers ../shared/data/eval --library eval.db --red-flags tests/data/red_flag_questions.jsonl
    """
    from medora.cli import handle_errors

    handle_errors(_run)(eval_dir, library, red_flags, matcher, audiences, kqa_limit, pubmedqa_limit, fmt)


def _run(eval_dir: Path, library: str | None, red_flags: Path | None, matcher: str, audiences: str,
         kqa_limit: int | None, pubmedqa_limit: int | None, fmt: str) -> None:
    from medora.eval.answers import evaluate_answers
    from medora.settings import load_settings

    settings = load_settings(library=library)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    report = evaluate_answers(eval_dir, settings, red_flags=red_flags, matcher=matcher,
                              audiences=tuple(a.strip() for a in audiences.split(",") if a.strip()),
                              kqa_limit=kqa_limit, pubmedqa_limit=pubmedqa_limit,
                              progress=lambda m: err.print(m, markup=False))
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_tables(report, Console(highlight=False, soft_wrap=True))


def print_tables(report: dict, console: Console) -> None:
    """The report as tables: matcher, K-QA per audience, PubMedQA, integrity, red flags."""
    m = report["matcher"]
    cv = m["entailment_cross_validated"]
    console.print(f"Matcher: {m['mode']}; thresholds {m['thresholds']}; vs physicians (cross-validated): "
                  f"accuracy {cv['accuracy']:.3f}, precision {cv['precision']:.3f}, recall {cv['recall']:.3f} "
                  f"(physicians agree with each other {m['physician_pairwise_agreement']:.3f})", markup=False)
    console.print(_kqa_table(report["kqa"]))
    ref = report["kqa_physician_answers"]
    console.print(f"Physicians' own K-QA answers, scored the same way: coverage {ref['coverage']:.3f} "
                  f"({ref['covered']}/{ref['must_have']}), contradicted {ref['contradicted']} (false flags)",
                  markup=False)
    console.print(_pubmedqa_table(report["pubmedqa"]))
    console.print(_confusion_table(report["pubmedqa"]["confusion"]))
    i = report["integrity"]
    console.print(f"Citation integrity: {i['rate']:.2%} of {i['citations']:,} citations and {i['statements']:,} "
                  f"statements in {i['answers']:,} answers; failures {i['failures'] or 'none'}", markup=False)
    flags = report["red_flags"]
    if "labelled" in flags:
        lab = flags["labelled"]
        console.print(f"Red flags: recall {lab['recall']:.3f} on {lab['emergencies']} emergencies "
                      f"(right category {lab['right_category']:.3f}); false alarms {lab['false_alarms']}/"
                      f"{lab['non_emergencies']} labelled non-emergencies", markup=False)
    real = flags["real_questions"]
    console.print(f"Red flags on real questions: {real['false_alarms']}/{real['questions']} false alarms", markup=False)
    console.print(f"Time: {report['run']['seconds']} s", markup=False)


def _kqa_table(kqa: dict) -> Table:
    """One column per audience (narrow enough for an 80-column terminal)."""
    table = _table("K-QA, per audience (FK: Flesch-Kincaid grade of answered questions)", "measure", *kqa)
    rows = {
        "answered": lambda r: str(r["status"].get("answered", 0)),
        "insufficient evidence": lambda r: str(r["insufficient_evidence"]),
        "must-haves covered": lambda r: f"{r['covered']}/{r['must_have']}",
        "coverage": lambda r: f"{r['coverage']:.3f}",
        "coverage when answered": lambda r: f"{r['coverage_answered']:.3f}",
        "contradicted (proxy)": lambda r: str(r["contradicted"]),
        "FK grade median": lambda r: _num(r["reading_grade"]["median"]),
        "FK grade p90": lambda r: _num(r["reading_grade"]["p90"]),
    }
    for name, cell in rows.items():
        table.add_row(name, *(cell(r) for r in kqa.values()))
    return table


def _pubmedqa_table(p: dict) -> Table:
    table = _table("PubMedQA verdicts", "measure", "value")
    rows = [
        ("questions", str(p["questions"])),
        ("accuracy", f"{p['accuracy']:.3f}"),
        ("verdict given", str(p["verdict_given"])),
        ("accuracy when given", f"{p['accuracy_when_verdict_given']:.3f}"),
        ("majority class here", f"{p['majority_class_here']:.3f}"),
        ("own abstract in library", str(p["evidence_in_library"])),
        ("own abstract cited", str(p["cites_own_abstract"])),
    ]
    rows += [(f"anchor: {name}", f"{value:.2f}") for name, value in p["anchors"].items()]
    for name, value in rows:
        table.add_row(name, value)
    return table


def _confusion_table(confusion: dict) -> Table:
    table = _table("PubMedQA confusion (rows: final_decision, maybe = unclear; columns: verdict)",
                   "gold", *VERDICTS)
    for gold, row in confusion.items():
        table.add_row(gold, *(str(row[v]) for v in VERDICTS))
    return table


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, title_justify="left")
    for col in columns:
        table.add_column(col, no_wrap=True)
    return table


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
