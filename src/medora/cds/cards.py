"""CDS Hooks 2.0 cards from label findings: the response shapes and the words on each card.

A card's ``summary`` (under 140 characters) says what the labels say about which drug; its
``indicator`` is the finding's strength; its ``detail`` (GitHub Markdown) quotes each label sentence
word for word, numbered, with a source list linking every number to the passage on Medora's document
page; its ``source`` names the label and links to the document; ``links`` open the cited passages.
Optional fields are omitted, never null or empty (the specification forbids both).
"""

from __future__ import annotations

import re

from medora.cds.drugs import LabelDrug
from medora.cds.findings import Finding, Quote, boxed_title
from medora.cds.schema import SUMMARY_LIMIT, Card, Link, Source

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|~])")
MAX_LINKS = 10
NOTE = ("*Quoted word for word from FDA labels in Medora's library; check the full label. Medora supports, "
        "and does not replace, clinical judgement.*")


def escape(text: str) -> str:
    """Markdown-escaped text that renders as exactly ``text``."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def summary(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SUMMARY_LIMIT else text[:SUMMARY_LIMIT - 1].rstrip(" ,;:") + "…"


class CardMaker:
    """Builds cards whose links point at this server's document pages (``base_url``: e.g. http://host:port)."""

    def __init__(self, base_url: str):
        self.base = base_url.rstrip("/")

    def document_url(self, drug: LabelDrug) -> str:
        return f"{self.base}/library/documents/{drug.label.id}"

    def passage_url(self, quote: Quote) -> str:
        return f"{self.document_url(quote.drug)}#passage-{quote.passage.id}"

    def card(self, finding: Finding) -> Card:
        drug = finding.drug
        return Card(summary=summary(self._summary(finding)), indicator=finding.indicator,
                    detail=self._detail([finding]),
                    source=Source(label=f"Medora: {drug.label.title}", url=self.document_url(drug)),
                    links=self._links([finding]))

    def grouped(self, findings: list[Finding]) -> Card:
        """One info card for several interactions the labels only describe (no advice to avoid): fewer alerts."""
        pairs = ", ".join(f"{f.drug.name} + {f.other_drug.name}" for f in findings if f.other_drug)
        return Card(summary=summary(f"Labels describe {len(findings)} interactions: {pairs}"), indicator="info",
                    detail=self._detail(findings), source=Source(label="Medora: FDA labels", url=f"{self.base}/library"),
                    links=self._links(findings))

    def _links(self, findings: list[Finding]) -> list[Link]:
        quotes = {q.passage.id: q for f in findings for q in f.quotes}.values()
        return [Link(label=f"{q.drug.brand} label: {' › '.join(q.passage.section_path)} (passage {q.passage.id})",
                     url=self.passage_url(q)) for q in list(quotes)[:MAX_LINKS]]

    @staticmethod
    def _summary(finding: Finding) -> str:
        drug = finding.drug
        if finding.kind == "boxed warning":
            title = boxed_title(finding)
            return f"Boxed warning for {drug.name}" + (f": {title}" if title else " (FDA label)")
        if finding.kind == "condition":
            condition = finding.condition.name if finding.condition else "a condition"
            if finding.strength == 2:
                return f"{drug.name.capitalize()} label lists {condition} as a contraindication"
            return f"{drug.name.capitalize()} label warns about use in {condition}"
        other = finding.other_drug.name if finding.other_drug else "another medication"
        if finding.strength == 2:
            return f"{drug.name.capitalize()} with {other}: the label says contraindicated"
        if finding.strength == 1:
            return f"{drug.name.capitalize()} with {other}: the labels advise against using them together"
        return f"{drug.name.capitalize()} with {other}: the labels describe an interaction"

    def _detail(self, findings: list[Finding]) -> str:
        """Each quote as a blockquote under its label and section (and its drug pair when the card has several),
        numbered by passage; then the numbered sources."""
        numbers: dict[int, Quote] = {}
        lines: list[str] = []
        for finding in findings:
            if len(findings) > 1 and finding.other_drug:
                lines += [*([""] if lines else []), f"### {escape(finding.drug.name)} + "
                          f"{escape(finding.other_drug.name)}"]
            shown = None
            for quote in finding.quotes:
                numbers.setdefault(quote.passage.id, quote)
                number = list(numbers).index(quote.passage.id) + 1
                heading = f"{quote.drug.label.title}, {' › '.join(quote.passage.section_path)}"
                if heading != shown:
                    lines += [*([""] if lines else []), f"**{escape(heading)}**:", ""]
                    shown = heading
                else:
                    lines.append(">")
                lines.append(f"> {escape(quote.text)} [{number}]")
        lines += ["", "Sources:", ""]
        for number, quote in enumerate(numbers.values(), 1):
            label = quote.drug.label
            where = ". ".join(x for x in (label.publisher, str(label.year) if label.year else None) if x)
            lines.append(f"{number}. [{escape(label.title)}: {escape(' › '.join(quote.passage.section_path))}]"
                         f"({self.passage_url(quote)})" + (f" {escape(where)}." if where else ""))
        return "\n".join([*lines, "", NOTE])

    def unresolved(self, names: list[str]) -> Card:
        listed = "\n".join(f"- {escape(n)}" for n in names)
        return Card(summary=summary(f"Not checked: {len(names)} medication{'s' if len(names) > 1 else ''} "
                                    "with no FDA label in Medora's library"), indicator="info",
                    detail="Medora found no drug label for these medications, so it did not check them "
                           f"(it does not guess); check them in another reference:\n\n{listed}",
                    source=Source(label="Medora", url=f"{self.base}/library"))

    def missing_context(self, missing: list[str]) -> Card:
        what = " and ".join(missing)
        return Card(summary=summary(f"Not checked against the patient's {what}: not sent with the request"),
                    indicator="info",
                    detail=f"The request carried no prefetched {what}; Medora never queries a FHIR server, so "
                           "it checked the orders only against each other and their own labels.",
                    source=Source(label="Medora", url=f"{self.base}/library"))
