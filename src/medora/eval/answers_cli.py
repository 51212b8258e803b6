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
from medora.eval.answers import MATCHERS, SETS, VERDICTS


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
@click.option("--sets", "sets", default=",".join(SETS), show_default=True,
              help="Comma-separated sets to run (keyfacts, medicationqa, kqa, pubmedqa, redflags).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N questions of every set.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Write one JSON line per question (and K-QA audience): what was answered and why it failed.")
@click.option("--kqa-limit", type=click.IntRange(1), default=None, help="Only the first N K-QA questions.")
@click.option("--pubmedqa-limit", type=click.IntRange(1), default=None, help="Only the first N PubMedQA questions.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="Output format.")
def eval_answers(eval_dir: Path, library: str | None, red_flags: Path | None, matcher: str, audiences: str,
                 sets: str, limit: int | None, report_path: Path | None, kqa_limit: int | None,
                 pubmedqa_limit: int | None, fmt: str) -> None:
    """Measure answer quality on the evaluation sets in EVAL_DIR (keyfacts-dev, medicationqa-dev, kqa-dev,
    pubmedqa-1k, liveqa-med-dev).

    \b
    K-QA: share of physicians' must-have statements an answer supports, per audience, with a
    matcher calibrated on the physicians' NLI labels; a contradiction proxy; questions the
    library could not answer. PubMedQA: accuracy of the yes/no verdict. Every answer's
    citations are checked against the library; reading grade per audience; red-flag recall
    and false alarms. Key facts: share of questions whose lead (bottom line + next 3 statements)
    states every key fact, with the expected verdict, nothing forbidden in the bottom line, and
    abstaining when out of scope; each failure with its reasons. MedicationQA: share of answers
    quoting the pharmacist's gold sentence (token F1 >= 0.6), overall and on the subset the
    library can answer. A naive baseline (bm25s, first 8 sentences of the top 3 passages) answers
    the key-fact, MedicationQA and K-QA questions in the same run. Progress goes to stderr.

    \b
    Examples:
      medora eval answers ../shared/data/eval --library eval.db --red-flags tests/data/red_flag_questions.jsonl
      medora eval answers ../shared/data/eval --sets keyfacts --report keyfacts.jsonl
      medora eval answers ../shared/data/eval --sets keyfacts,medicationqa --limit 20 --format json
    """
    from medora.cli import handle_errors

    handle_errors(_run)(eval_dir, library, red_flags, matcher, audiences, sets, limit, report_path, kqa_limit,
                        pubmedqa_limit, fmt)


def _run(eval_dir: Path, library: str | None, red_flags: Path | None, matcher: str, audiences: str,
         sets: str, limit: int | None, report_path: Path | None, kqa_limit: int | None,
         pubmedqa_limit: int | None, fmt: str) -> None:
    from medora.eval.answers import evaluate_answers, parse_sets
    from medora.settings import load_settings

    settings = load_settings(library=library)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    rows: list[dict] | None = [] if report_path else None
    report = evaluate_answers(eval_dir, settings, red_flags=red_flags, matcher=matcher,
                              audiences=tuple(a.strip() for a in audiences.split(",") if a.strip()),
                              kqa_limit=kqa_limit, pubmedqa_limit=pubmedqa_limit, sets=parse_sets(sets),
                              limit=limit, rows=rows, progress=lambda m: err.print(m, markup=False))
    if report_path:
        with report_path.open("w", encoding="utf-8") as fh:
            for row in rows or []:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        err.print(f"wrote {len(rows or [])} per-question rows to {report_path}", markup=False)
    if fmt == "json":
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_tables(report, Console(highlight=False, soft_wrap=True))


def print_tables(report: dict, console: Console) -> None:
    """The report as tables: key facts, MedicationQA, matcher, K-QA, PubMedQA, integrity, red flags (those run)."""
    say = lambda text: console.print(text, markup=False)  # noqa: E731
    if "keyfacts" in report:
        print_keyfacts(report["keyfacts"], console)
    if "medicationqa" in report:
        console.print(_medicationqa_table(report["medicationqa"]))
    if "kqa" in report:
        m = report["matcher"]
        cv = m["entailment_cross_validated"]
        say(f"Matcher: {m['mode']}; thresholds {m['thresholds']}; vs physicians (cross-validated): "
            f"accuracy {cv['accuracy']:.3f}, precision {cv['precision']:.3f}, recall {cv['recall']:.3f} "
            f"(physicians agree with each other {m['physician_pairwise_agreement']:.3f})")
        console.print(_kqa_table(report["kqa"], report.get("kqa_naive")))
        ref = report["kqa_physician_answers"]
        say(f"Physicians' own K-QA answers, scored the same way: coverage {ref['coverage']:.3f} "
            f"({ref['covered']}/{ref['must_have']}), contradicted {ref['contradicted']} (false flags)")
    if "pubmedqa" in report:
        console.print(_pubmedqa_table(report["pubmedqa"]))
        console.print(_confusion_table(report["pubmedqa"]["confusion"]))
    i = report["integrity"]
    say(f"Citation integrity: {i['rate']:.2%} of {i['citations']:,} citations and {i['statements']:,} "
        f"statements in {i['answers']:,} answers; failures {i['failures'] or 'none'}")
    flags = report.get("red_flags")
    if flags and "labelled" in flags:
        lab = flags["labelled"]
        say(f"Red flags: recall {lab['recall']:.3f} on {lab['emergencies']} emergencies "
            f"(right category {lab['right_category']:.3f}); false alarms {lab['false_alarms']}/"
            f"{lab['non_emergencies']} labelled non-emergencies")
    if flags:
        real = flags["real_questions"]
        say(f"Red flags on real questions: {real['false_alarms']}/{real['questions']} false alarms")
    say(f"Time: {report['run']['seconds']} s")


def print_keyfacts(k: dict, console: Console) -> None:
    """Pass rate beside the baseline, failures by kind, then every failed question with its reasons."""
    say = lambda text: console.print(text, markup=False)  # noqa: E731
    naive = k["naive"]
    say(f"Key facts ({k['audience']}): {k['passed']}/{k['questions']} pass ({k['pass_rate']:.1%}); "
        f"naive baseline {naive['passed']}/{k['questions']} ({naive['pass_rate']:.1%})")
    if k["failure_kinds"]:
        say("  failed questions by reason: " + ", ".join(f"{kind} {n}" for kind, n in k["failure_kinds"].items()))
    for f in k["failures"]:
        say(f"  {f['id']}  {f['question']}")
        for reason in f["reasons"]:
            say(f"        - {reason}")


def _medicationqa_table(mq: dict) -> Table:
    table = _table(f"MedicationQA ({mq['questions']} questions, {mq['answerable']} answerable from the library "
                   f"= {mq['answerable_share']:.1%}; hit: a statement quotes a gold sentence, F1 >= "
                   f"{mq['definition']['f1']})", "measure", "Medora", "naive")
    parts = {"answerable": "answerable", "answerable_from_focus": f"focus drug's docs ({mq['answerable_from_focus']})",
             "overall": "overall"}
    for part, label in parts.items():
        for key, name in (("hit_rate", "hit"), ("bottom_line_hit_rate", "bottom-line hit")):
            table.add_row(f"{name}, {label}", *(f"{mq[who][part][key]:.3f}" for who in ("medora", "naive")))
    table.add_row("answered", str(mq["status"].get("answered", 0)), "-")
    return table


def _kqa_table(kqa: dict, naive: dict | None = None) -> Table:
    """One column per audience (narrow enough for an 80-column terminal), and the naive baseline's."""
    columns = [*kqa, "naive"] if naive else list(kqa)
    table = _table("K-QA, per audience (FK: Flesch-Kincaid grade of answered questions)", "measure", *columns)
    rows = {
        "answered": lambda r: str(r["status"].get("answered", 0)),
        "answered share": lambda r: f"{r['answered_share']:.3f}",
        "insufficient evidence": lambda r: str(r["insufficient_evidence"]),
        "must-haves covered": lambda r: f"{r['covered']}/{r['must_have']}",
        "coverage": lambda r: f"{r['coverage']:.3f}",
        "coverage when answered": lambda r: f"{r['coverage_answered']:.3f}",
        "contradicted (proxy)": lambda r: str(r["contradicted"]),
        "FK grade median": lambda r: _num(r["reading_grade"]["median"]),
        "FK grade p90": lambda r: _num(r["reading_grade"]["p90"]),
    }
    naive_cells = {"answered": str(naive["answered"]), "answered share": f"{naive['answered_share']:.3f}",
                   "must-haves covered": f"{naive['covered']}/{naive['must_have']}",
                   "coverage": f"{naive['coverage']:.3f}"} if naive else {}
    for name, cell in rows.items():
        table.add_row(name, *(cell(r) for r in kqa.values()), *([naive_cells.get(name, "-")] if naive else []))
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
