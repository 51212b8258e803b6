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

from medora.models import Answer, Reference, Statement


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
        line += f" Section: {r.section}."
    return line


def to_json(answer: Answer) -> str:
    return answer.model_dump_json(by_alias=True, indent=2)


def to_markdown(answer: Answer) -> str:
    out = [f"# {answer.title}", ""]
    if answer.status != "answered":
        out += [f"**{answer.message}**", ""]
        if answer.closest_sources:
            out += ["## Closest sources (not judged to answer the question)", ""]
            out += [f"- {_ref_line(r)}" + (f" <{r.url}>" if r.url else "") for r in answer.closest_sources]
            out.append("")
    else:
        out += ["**Bottom line:** " + " ".join(f"{s.text} {_marks(s)}" for s in answer.bottom_line), ""]
        for section in answer.sections:
            out += [f"## {section.heading}", ""]
            for i, st in enumerate(section.statements, 1):
                prefix = f"{i}." if st.kind == "step" else "-"
                out.append(f"{prefix} {st.text} {_marks(st)}")
            out.append("")
        out += ["## References", ""]
        for r in answer.references:
            out.append(f"{r.number}. {_ref_line(r)}" + (f" <{r.url}>" if r.url else ""))
        out.append("")
    out += [f"*{answer.disclaimer}*", ""]
    return "\n".join(out)


def to_html(answer: Answer) -> str:
    e = html.escape
    body = [f"<h1>{e(answer.title)}</h1>"]
    if answer.status != "answered":
        body.append(f'<p class="notice"><strong>{e(answer.message or "")}</strong></p>')
        if answer.closest_sources:
            body.append("<h2>Closest sources (not judged to answer the question)</h2><ul>")
            body += [f"<li>{_ref_html(r)}</li>" for r in answer.closest_sources]
            body.append("</ul>")
    else:
        bl = " ".join(f"{e(s.text)} {_cite_html(s)}" for s in answer.bottom_line)
        body.append(f'<p class="bottom-line"><strong>Bottom line:</strong> {bl}</p>')
        for section in answer.sections:
            tag = "ol" if any(s.kind == "step" for s in section.statements) else "ul"
            items = "".join(f"<li>{e(s.text)} {_cite_html(s)}</li>" for s in section.statements)
            body.append(f"<section><h2>{e(section.heading)}</h2><{tag}>{items}</{tag}></section>")
        body.append('<section><h2>References</h2><ol class="references">')
        body += [f'<li id="ref-{r.number}">{_ref_html(r)}</li>' for r in answer.references]
        body.append("</ol></section>")
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
    parts: list = [Text(answer.title, style="bold underline"), Text("")]
    if answer.status != "answered":
        parts.append(Text(answer.message or "", style="bold yellow"))
        for r in answer.closest_sources:
            parts.append(Text(f"  • {_ref_line(r)}" + (f" {r.url}" if r.url else ""), style="dim"))
    else:
        bl = Text()
        for s in answer.bottom_line:
            bl.append(s.text + " ")
            bl.append(_marks(s) + " ", style="cyan")
        parts.append(Panel(bl, title="Bottom line", title_align="left", border_style="green"))
        for section in answer.sections:
            parts.append(Text(section.heading, style="bold"))
            for i, st in enumerate(section.statements, 1):
                line = Text(f"  {i}. " if st.kind == "step" else "  • ")
                line.append(st.text + " ")
                line.append(_marks(st), style="cyan")
                parts.append(line)
            parts.append(Text(""))
        parts.append(Text("References", style="bold"))
        for r in answer.references:
            parts.append(Text.from_markup(f"  [cyan]{r.number}.[/cyan] {escape(_ref_line(r))}"))
            if r.url:
                parts.append(Text(f"     {r.url}", style="blue"))
    parts += [Text(""), Text(answer.disclaimer, style="italic dim")]
    console.print(Group(*parts))
