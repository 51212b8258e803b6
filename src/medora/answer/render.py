"""Render an Answer for people and programs: terminal (rich), Markdown, HTML, JSON.

Every format shows the same article: title, bottom line, sections of cited statements,
numbered references with evidence labels, and the disclaimer. HTML escapes all text.
"""

from __future__ import annotations

import html

from rich.console import Console, Group
from rich.markup import escape
from rich.panel import Panel
from rich.text import Text

from medora.models import Answer, GlossaryEntry, Reference, Statement


def _marks(st: Statement) -> str:
    nums = sorted({c.ref for c in st.citations})
    return "[" + ",".join(str(n) for n in nums) + "]" if nums else ""


def _ref_line(r: Reference) -> str:
    bits = [r.title.rstrip(" .")]
    if r.publisher:
        bits.append(r.publisher)
    if r.year:
        bits.append(str(r.year))
    line = ". ".join(bits) + f". [{r.evidence_label}]"
    if r.section:
        line += f" Section: {r.section}" + ("" if r.section.endswith((".", "?", "!")) else ".")
    return line


def to_json(answer: Answer) -> str:
    return answer.model_dump_json(by_alias=True, indent=2)


def _emergency_lines(answer: Answer) -> list[str]:
    e = answer.emergency
    if not e:
        return []
    lines = [e.notice]
    lines += [f"{c.name}: {c.contact}" + (f" ({c.region})" if c.region else "") for c in e.crisis]
    return lines


def _verdict_word(answer: Answer) -> str:
    if answer.verdict_note:
        return answer.verdict_note
    return {"yes": "Yes.", "no": "No.", "unclear": "The evidence is unclear."}.get(answer.verdict or "", "")


def answering_line(answer: Answer) -> str:
    """"Answering: citalopram · maximum dose" — how Medora read the question."""
    return f"Answering: {answer.frame.label}" if answer.frame else ""


def to_markdown(answer: Answer) -> str:
    out = [f"# {answer.title}", ""]
    if answer.emergency:
        out += ["> **Emergency:** " + "  \n> ".join(_emergency_lines(answer)), ""]
    if answer.frame and answer.status == "answered":
        out += [f"*{answering_line(answer)}*", ""]
    out += [f"*{n}*" for n in answer.notices] + ([""] if answer.notices else [])
    if answer.status != "answered":
        out += [f"**{answer.message}**", ""]
        if answer.closest_sources:
            out += ["## Closest sources (not judged to answer the question)", ""]
            out += [f"- {_ref_line(r)}" + (f" <{r.url}>" if r.url else "") for r in answer.closest_sources]
            out.append("")
    else:
        lead = (_verdict_word(answer) + " ") if answer.verdict else ""
        out += ["**Bottom line:** " + lead + " ".join(f"{s.text} {_marks(s)}" for s in answer.bottom_line), ""]
        if answer.evidence_strength:
            out += [f"*Strength of evidence:* {answer.evidence_strength}", ""]
        for section in answer.sections:
            out += [f"## {section.heading}", ""]
            for i, st in enumerate(section.statements, 1):
                prefix = f"{i}." if st.kind == "step" else "-"
                out.append(f"{prefix} {st.text} {_marks(st)}")
            out.append("")
        if answer.differences:
            out += ["## Where sources differ", ""] + [f"- {d.note}" for d in answer.differences] + [""]
        if answer.glossary:
            out += [f"## {glossary_heading(answer)}", ""]
            out += [f"- **{g.term}**: {g.explanation}{_glossary_source(g)}" for g in answer.glossary] + [""]
        out += ["## References", ""]
        for r in answer.references:
            out.append(f"{r.number}. {_ref_line(r)}" + (f" <{r.url}>" if r.url else ""))
        out.append("")
        if answer.follow_ups:
            out += ["## Follow-up questions", ""] + [f"- {q}" for q in answer.follow_ups] + [""]
    out += [f"*{answer.disclaimer}*", ""]
    return "\n".join(out)


def glossary_heading(answer: Answer) -> str:
    """Students get precise definitions of key terms; patients and caregivers words explained."""
    return "Key terms" if answer.audience == "student" else "Words explained"


def _glossary_source(g: GlossaryEntry) -> str:
    return "" if g.source == "medora-glossary" else f" (from {g.source})"


def to_html(answer: Answer) -> str:
    e = html.escape
    body = [f"<h1>{e(answer.title)}</h1>"]
    if answer.emergency:
        body.append('<aside class="emergency" role="alert"><strong>Emergency:</strong> '
                    + "<br>".join(e(x) for x in _emergency_lines(answer)) + "</aside>")
    if answer.frame and answer.status == "answered":
        body.append(f'<p class="frame">{e(answering_line(answer))}</p>')
    body += [f'<p class="notice">{e(n)}</p>' for n in answer.notices]
    if answer.status != "answered":
        body.append(f'<p class="notice"><strong>{e(answer.message or "")}</strong></p>')
        if answer.closest_sources:
            body.append("<h2>Closest sources (not judged to answer the question)</h2><ul>")
            body += [f"<li>{_ref_html(r)}</li>" for r in answer.closest_sources]
            body.append("</ul>")
    else:
        bl = " ".join(f"{e(s.text)} {_cite_html(s)}" for s in answer.bottom_line)
        lead = f"<strong>{e(_verdict_word(answer))}</strong> " if answer.verdict else ""
        body.append(f'<p class="bottom-line"><strong>Bottom line:</strong> {lead}{bl}</p>')
        if answer.evidence_strength:
            body.append(f'<p class="strength">Strength of evidence: {e(answer.evidence_strength)}</p>')
        for section in answer.sections:
            tag = "ol" if any(s.kind == "step" for s in section.statements) else "ul"
            items = "".join(f"<li>{e(s.text)} {_cite_html(s)}</li>" for s in section.statements)
            body.append(f"<section><h2>{e(section.heading)}</h2><{tag}>{items}</{tag}></section>")
        if answer.differences:
            body.append("<section><h2>Where sources differ</h2><ul>"
                        + "".join(f"<li>{e(d.note)}</li>" for d in answer.differences) + "</ul></section>")
        if answer.glossary:
            body.append(f"<section><h2>{e(glossary_heading(answer))}</h2><dl>"
                        + "".join(f"<dt>{e(g.term)}</dt><dd>{e(g.explanation + _glossary_source(g))}</dd>"
                                  for g in answer.glossary)
                        + "</dl></section>")
        body.append('<section><h2>References</h2><ol class="references">')
        body += [f'<li id="ref-{r.number}">{_ref_html(r)}</li>' for r in answer.references]
        body.append("</ol></section>")
        if answer.follow_ups:
            body.append("<section><h2>Follow-up questions</h2><ul>"
                        + "".join(f"<li>{e(q)}</li>" for q in answer.follow_ups) + "</ul></section>")
    body.append(f'<p class="disclaimer"><em>{e(answer.disclaimer)}</em></p>')
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{e(answer.title)}</title></head><body><main>\n" + "\n".join(body) + "\n</main></body></html>\n"
    )


def _cite_html(st: Statement) -> str:
    links = []
    for c in st.citations:
        links.append(f'<a href="#ref-{c.ref}" title="{html.escape(c.quote, quote=True)}">{c.ref}</a>')
    return "<sup>[" + ",".join(links) + "]</sup>"


def _ref_html(r: Reference) -> str:
    e = html.escape
    title = f'<a href="{e(r.url, quote=True)}">{e(r.title)}</a>' if r.url else e(r.title)
    extra = ". ".join(x for x in (r.publisher, str(r.year) if r.year else None) if x)
    return f'{title}{". " + e(extra) if extra else ""} <span class="label">[{e(r.evidence_label)}]</span>'


def to_terminal(answer: Answer, console: Console) -> None:
    parts: list = []
    if answer.emergency:
        parts.append(Panel(Text("\n".join(_emergency_lines(answer)), style="bold"), title="EMERGENCY",
                           title_align="left", border_style="red"))
    parts += [Text(answer.title, style="bold underline"), Text("")]
    if answer.frame and answer.status == "answered":
        parts.append(Text(answering_line(answer), style="dim"))
    parts += [Text(n, style="italic yellow") for n in answer.notices]
    if answer.status != "answered":
        parts.append(Text(answer.message or "", style="bold yellow"))
        for r in answer.closest_sources:
            parts.append(Text(f"  • {_ref_line(r)}" + (f" {r.url}" if r.url else ""), style="dim"))
    else:
        bl = Text(_verdict_word(answer) + " " if answer.verdict else "", style="bold")
        for s in answer.bottom_line:
            bl.append(s.text + " ")
            bl.append(_marks(s) + " ", style="cyan")
        parts.append(Panel(bl, title="Bottom line", title_align="left", border_style="green"))
        if answer.evidence_strength:
            parts.append(Text(f"Strength of evidence: {answer.evidence_strength}", style="dim"))
            parts.append(Text(""))
        for section in answer.sections:
            parts.append(Text(section.heading, style="bold"))
            for i, st in enumerate(section.statements, 1):
                line = Text(f"  {i}. " if st.kind == "step" else "  • ")
                line.append(st.text + " ")
                line.append(_marks(st), style="cyan")
                parts.append(line)
            parts.append(Text(""))
        if answer.differences:
            parts.append(Text("Where sources differ", style="bold"))
            parts += [Text(f"  • {d.note}") for d in answer.differences] + [Text("")]
        if answer.glossary:
            parts.append(Text(glossary_heading(answer), style="bold"))
            parts += [Text(f"  • {g.term}: {g.explanation}{_glossary_source(g)}") for g in answer.glossary]
            parts.append(Text(""))
        parts.append(Text("References", style="bold"))
        for r in answer.references:
            parts.append(Text.from_markup(f"  [cyan]{r.number}.[/cyan] {escape(_ref_line(r))}"))
            if r.url:
                parts.append(Text(f"     {r.url}", style="blue"))
    if answer.follow_ups:
        parts += [Text(""), Text("Follow-up questions", style="bold")] + [Text(f"  • {q}") for q in answer.follow_ups]
    if answer.thread_id:
        parts.append(Text(f"Thread {answer.thread_id}: continue with --thread {answer.thread_id}", style="dim"))
    parts += [Text(""), Text(answer.disclaimer, style="italic dim")]
    console.print(Group(*parts))
