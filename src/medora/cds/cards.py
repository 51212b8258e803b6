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
        return Card(summary=summary(self._summary(finding)), indicator=finding.indicator, detail=self._detail(finding),
                    source=Source(label=f"Medora: {drug.label.title}", url=self.document_url(drug)),
                    links=[Link(label=f"{q.drug.brand} label: {' › '.join(q.passage.section_path)} (passage "
                                      f"{q.passage.id})", url=self.passage_url(q))
                           for q in {q.passage.id: q for q in finding.quotes}.values()])

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

    def _detail(self, finding: Finding) -> str:
        """Each quote as a blockquote under its label and section, numbered by passage; then the sources."""
        numbers: dict[int, Quote] = {}
        lines: list[str] = []
        shown = None
        for quote in finding.quotes:
            number = list(numbers).index(quote.passage.id) + 1 if quote.passage.id in numbers else len(numbers) + 1
            numbers.setdefault(quote.passage.id, quote)
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
