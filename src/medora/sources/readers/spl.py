"""Reader for FDA drug labels in HL7 v3 Structured Product Labeling (SPL) XML.

DailyMed and openFDA publish one XML file per label version. The label's sections carry
LOINC codes, which say what each section is about (indications, dosage, adverse
reactions, drug interactions, the OTC "Drug Facts" boxes...); they become section types so
that "side effects of X" finds the adverse reactions and "can I take X with Y" the drug
interactions. Highlights, product data and package-label sections are left out.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from lxml import etree

from medora.errors import ReaderError
from medora.sources.readers.base import (
    ParsedDocument,
    ParsedSection,
    Skipped,
    clean_text,
    parse_xml,
)
from medora.sources.readers.text import LineBuffer

NS = "urn:hl7-org:v3"
_NS = {"v": NS}
UNII_SYSTEM = "2.16.840.1.113883.4.9"
PUBLISHER = "U.S. Food and Drug Administration (DailyMed)"
DAILYMED_URL = "https://dailymed.nlm.nih.gov/dailymed/lookup.cfm?setid={}"

UNCLASSIFIED = "42229-5"
BOXED_WARNING = "34066-1"

#: LOINC section code -> (name used when the section has no title, section type).
SECTION_CODES: dict[str, tuple[str, str]] = {
    # prescription labels
    "34066-1": ("Boxed warning", "warnings"),
    "34067-9": ("Indications and usage", "indications"),
    "34068-7": ("Dosage and administration", "dosage"),
    "43678-2": ("Dosage forms and strengths", "dosage"),
    "34070-3": ("Contraindications", "contraindications"),
    "43685-7": ("Warnings and precautions", "warnings"),
    "34071-1": ("Warnings", "warnings"),
    "42232-9": ("Precautions", "warnings"),
    "34072-9": ("General precautions", "warnings"),
    "34075-2": ("Laboratory tests", "warnings"),
    "42227-9": ("Drug abuse and dependence", "warnings"),
    "34085-1": ("Controlled substance", "warnings"),
    "34086-9": ("Abuse", "warnings"),
    "34087-7": ("Dependence", "warnings"),
    "34084-4": ("Adverse reactions", "adverse reactions"),
    "34073-7": ("Drug interactions", "interactions"),
    "34074-5": ("Drug and laboratory test interactions", "interactions"),
    "43684-0": ("Use in specific populations", "specific populations"),
    "42228-7": ("Pregnancy", "specific populations"),
    "34077-8": ("Teratogenic effects", "specific populations"),
    "34078-6": ("Nonteratogenic effects", "specific populations"),
    "34079-4": ("Labor and delivery", "specific populations"),
    "34080-2": ("Nursing mothers", "specific populations"),
    "77290-5": ("Lactation", "specific populations"),
    "77291-3": ("Females and males of reproductive potential", "specific populations"),
    "34081-0": ("Pediatric use", "specific populations"),
    "34082-8": ("Geriatric use", "specific populations"),
    "34076-0": ("Patient counseling information", "patient counseling"),
    "88436-1": ("Patient counseling information", "patient counseling"),
    "42231-1": ("Medication guide", "patient counseling"),
    "42230-3": ("Patient information", "patient counseling"),
    "38056-8": ("Supplemental patient material", "patient counseling"),
    "59845-8": ("Instructions for use", "dosage"),
    "34092-7": ("Clinical studies", "results"),
    "34088-5": ("Overdosage", "other"),
    "34089-3": ("Description", "other"),
    "34090-1": ("Clinical pharmacology", "other"),
    "43679-0": ("Mechanism of action", "other"),
    "43681-6": ("Pharmacodynamics", "other"),
    "43682-4": ("Pharmacokinetics", "other"),
    "43680-8": ("Nonclinical toxicology", "other"),
    "34083-6": ("Carcinogenesis, mutagenesis, impairment of fertility", "other"),
    "34091-9": ("Animal pharmacology and toxicology", "other"),
    "34069-5": ("How supplied", "other"),
    "44425-7": ("Storage and handling", "other"),
    # OTC "Drug Facts" (uses = 34067-9, warnings = 34071-1, directions = 34068-7 above)
    "55106-9": ("Active ingredient", "other"),
    "55105-1": ("Purpose", "indications"),
    "50570-1": ("Do not use", "contraindications"),
    "50569-3": ("Ask a doctor before use", "warnings"),
    "50568-5": ("Ask a doctor or pharmacist before use", "interactions"),
    "50567-7": ("When using this product", "adverse reactions"),
    "50566-9": ("Stop use and ask a doctor", "warnings"),
    "53414-9": ("If pregnant or breast-feeding", "specific populations"),
    "50565-1": ("Keep out of reach of children", "warnings"),
    "50741-8": ("Safe handling warning", "warnings"),
    "60561-8": ("Other information", "other"),
    "51727-6": ("Inactive ingredients", "other"),
    "53413-1": ("Questions", "other"),
}

#: Sections that are not label text: product data elements, package label / principal display
#: panel, recent major changes (a Highlights box) and the bibliography.
SKIP_CODES = {"48780-1", "51945-4", "43683-2", "34093-5"}

#: Patient-facing sections whose bold question headings ("What are the possible side effects of X?")
#: are split into sections of their own.
PATIENT_INFO_CODES = {"42231-1", "42230-3", "38056-8"}

_PATIENT_TOPICS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p, re.I), t)
    for p, t in [
        (r"side effects", "adverse reactions"),
        (r"who should not|do not (take|use)", "contraindications"),
        (r"most important information", "warnings"),
        (r"\bavoid\b", "interactions"),
        (r"before (you )?(start|tak|us)|tell (my|your) (doctor|healthcare provider)", "warnings"),
        (r"how (should|do) i (take|use|inject)|instructions for use", "dosage"),
        (r"^what is\b", "indications"),
    ]
]
_PATIENT_HEADING = re.compile(r"^(what|who|how|before you|general information|instructions for use)\b", re.I)

# Elements of a <text> block: which end a line, which carry nothing readable.
_BLOCKS = {"paragraph", "item", "list", "caption", "footnote", "text", "title"}
_SKIP = {"renderMultiMedia", "footnoteRef", "col", "colgroup"}
_TITLE_NOISE = re.compile(
    r"^(these highlights do not include|see full prescribing information|initial u\.s\. approval)", re.I
)
_GENERIC_TITLES = {"drug facts", "prescribing information", "full prescribing information", "package insert"}
_ACTIVE_CLASSES = {"ACTIB", "ACTIM", "ACTIR"}


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname if isinstance(el.tag, str) else ""


# ---------------------------------------------------------------- text of <text>, <title> and tables


def _emit(el: etree._Element, buf: LineBuffer, skip: set[str] = _SKIP) -> None:
    """Append the readable text of ``el`` (and its tail) to ``buf``, blocks on lines of their own."""
    tag = _local(el)
    if tag == "br":
        buf.end_line()
    elif tag == "table":
        _emit_table(el, buf)
    elif tag and tag not in skip:
        block = tag in _BLOCKS
        if block:
            buf.end_line()
        buf.add(el.text)
        for child in el:
            _emit(child, buf, skip)
        if block:
            buf.end_line()
    buf.add(el.tail)


def _text_lines(el: etree._Element | None, skip: set[str] = _SKIP) -> list[str]:
    """The readable lines inside ``el`` (nothing for a missing element)."""
    if el is None:
        return []
    buf = LineBuffer()
    buf.add(el.text)
    for child in el:
        _emit(child, buf, skip)
    return buf.finish()


def _inline(el: etree._Element, skip: set[str] = _SKIP) -> str:
    """The text inside ``el`` on one line."""
    return " ".join(_text_lines(el, skip))


def _own(table: etree._Element, tag: str) -> list[etree._Element]:
    """Descendants named ``tag`` that belong to ``table`` itself, not to a table nested in it."""
    name = f"{{{NS}}}{tag}"
    return [el for el in table.iter(name) if next(el.iterancestors(f"{{{NS}}}table")) is table]


def _emit_table(table: etree._Element, buf: LineBuffer) -> None:
    """One line per row (cells joined by ' | '), then the table's footnotes."""
    buf.end_line()
    cell_skip = _SKIP | {"footnote"}
    for caption in table.iterfind("v:caption", _NS):
        buf.extend([_inline(caption, cell_skip)])
    for row in _own(table, "tr"):
        cells = [_inline(cell, cell_skip) for cell in row if _local(cell) in ("td", "th")]
        buf.extend([" | ".join(c for c in cells if c)])
    buf.extend([_inline(note) for note in _own(table, "footnote")])


# ---------------------------------------------------------------- sections


def _code(section: etree._Element) -> tuple[str, str]:
    """The section's LOINC code and display name."""
    code = section.find("v:code", _NS)
    if code is None:
        return "", ""
    return code.get("code", ""), code.get("displayName", "")


def _heading(raw: str) -> str:
    """A section title without its number ("5.1 Hepatotoxicity" -> "Hepatotoxicity"), ALL CAPS calmed."""
    text = re.sub(r"^\d+(\.\d+)*\.?\s+", "", raw).strip()
    if text.isupper():
        text = text[:1] + text[1:].lower()
    return text


def _label(section: etree._Element, code: str, display: str, nested_box: bool) -> str | None:
    """The path component for a section: its title, else a name for its code.

    None (stay on the parent's path) for an untitled unclassified section or boxed text inside another section.
    """
    title = section.find("v:title", _NS)
    text = _heading(_inline(title)) if title is not None else ""
    if text:
        return text
    if nested_box or code == UNCLASSIFIED:
        return None
    if code in SECTION_CODES:
        return SECTION_CODES[code][0]
    name = re.sub(r"\s+section$", "", display.strip(), flags=re.I)
    return name[:1].upper() + name[1:].lower() if name else None


def _section_type(code: str, parent_type: str | None) -> tuple[str, bool]:
    """The section type and whether it was inherited from the parent section.

    Unclassified and unknown sections take their parent's type; so does a boxed-warning
    section nested inside another section (labels use it for any boxed text, e.g. a dosing
    table), and anything inside Contraindications ("4.3 Pregnancy" there is a contraindication).
    """
    if code in SECTION_CODES and not (code == BOXED_WARNING and parent_type) and parent_type != "contraindications":
        return SECTION_CODES[code][1], False
    return parent_type or "other", True


def _patient_groups(text_el: etree._Element) -> list[tuple[str | None, list[str]]]:
    """The lines of a patient leaflet, split at its bold question headings."""
    groups: list[tuple[str | None, list[str]]] = [(None, [])]
    for child in text_el:
        heading = _patient_heading(child)
        if heading:
            groups.append((heading, []))
        else:
            buf = LineBuffer()
            _emit(child, buf)
            groups[-1][1].extend(buf.finish())
    return groups


def _not_bold_text(el: etree._Element) -> str:
    parts = [el.text or ""]
    for child in el:
        if not (_local(child) == "content" and "bold" in (child.get("styleCode") or "").lower()):
            parts.append(_not_bold_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _patient_heading(el: etree._Element) -> str | None:
    """The text of a paragraph that is a bold leaflet heading ("How should I take X?"), else None."""
    if _local(el) != "paragraph" or re.search(r"\w", _not_bold_text(el)):
        return None
    text = _inline(el)
    if len(text) > 120 or text.endswith((":", ".")):
        return None
    if text.endswith("?") or _PATIENT_HEADING.match(text):
        return _heading(text)
    return None


def _patient_type(heading: str | None) -> str:
    """The section type a leaflet question names ("What are the possible side effects...?")."""
    matches = (section_type for pattern, section_type in _PATIENT_TOPICS if heading and pattern.search(heading))
    return next(matches, "patient counseling")


class _SectionWalker:
    """Turns the nested <section> tree into ParsedSections with title paths and LOINC-based types."""

    def __init__(self) -> None:
        self.sections: list[ParsedSection] = []

    def walk(self, section: etree._Element, parent_path: list[str], parent_type: str | None) -> bool:
        """Add ``section`` and its subsections; True when any text was added."""
        code, display = _code(section)
        if code in SKIP_CODES:
            return False
        section_type, inherited = _section_type(code, parent_type)
        label = _label(section, code, display, nested_box=inherited and code == BOXED_WARNING)
        path = [*parent_path, label] if label else list(parent_path)
        text_el = section.find("v:text", _NS)
        if code in PATIENT_INFO_CODES and text_el is not None:
            added = self._add_patient_info(text_el, path)
        else:
            added = self._add(path, _text_lines(text_el), section_type)
        for child in section.iterfind("v:component/v:section", _NS):
            added = self.walk(child, path, section_type) or added
        if not added and label and len(label.split()) >= 5:
            # A titled section without any text: the title is the content ("4.1 Active liver disease, which...").
            added = self._add(path, [label], section_type)
        return added

    def _add(self, path: list[str], lines: list[str], section_type: str) -> bool:
        """Add text under ``path``; True when there was text to add."""
        from medora.sources.readers.openfda import strip_references  # (openfda reads this module's codes)

        # Cross-references ("[see Contraindications (4.1)]") are navigation, not statements: quotes never carry them.
        text = strip_references(clean_text("\n".join(lines)))
        if not text or (not path and len(text.split()) < 4):  # a stray print code such as "LAB-0021-29.0"
            return False
        last = self.sections[-1] if self.sections else None
        if last and last.path == path and last.section_type == section_type:
            last.text = f"{last.text}\n{text}"  # untitled subsections continue their parent
        else:
            self.sections.append(ParsedSection(path=list(path), text=text, section_type=section_type))
        return True

    def _add_patient_info(self, text_el: etree._Element, path: list[str]) -> bool:
        added = False
        for heading, lines in _patient_groups(text_el):
            added = self._add([*path, heading] if heading else path, lines, _patient_type(heading)) or added
        return added


# ---------------------------------------------------------------- document metadata


def _attr(root: etree._Element, xpath: str, attr: str) -> str:
    el = root.find(xpath, _NS)
    return (el.get(attr) or "").strip() if el is not None else ""


def _words(el: etree._Element) -> str:
    """Text of a name element, its parts (e.g. a <suffix>) separated by spaces."""
    return " ".join(" ".join(el.itertext()).split())


def _unique(values: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        if value and value.lower() not in seen:
            seen[value.lower()] = value
    return list(seen.values())


def _products(root: etree._Element) -> dict[str, Any]:
    """Brand names, generic names and active ingredients from the product data elements."""
    products = root.findall(".//v:manufacturedProduct/v:manufacturedProduct", _NS)
    brands = _unique([_words(n) for p in products for n in p.iterfind("v:name", _NS)])
    generic_path = "v:asEntityWithGeneric/v:genericMedicine/v:name"
    generics = _unique([_words(n) for p in products for n in p.iterfind(generic_path, _NS)])
    actives: dict[str, dict[str, str]] = {}
    for product in products:
        substances = [
            ing.find("v:ingredientSubstance", _NS)
            for ing in product.iter(f"{{{NS}}}ingredient")
            if ing.get("classCode") in _ACTIVE_CLASSES
        ]
        substances += product.findall(".//v:activeIngredient/v:activeIngredientSubstance", _NS)
        for substance in (s for s in substances if s is not None):
            name_el = substance.find("v:name", _NS)
            name = _words(name_el) if name_el is not None else ""
            code = substance.find("v:code", _NS)
            entry = {"name": name}
            if code is not None and code.get("codeSystem") == UNII_SYSTEM and code.get("code"):
                entry["unii"] = code.get("code", "")
            if name and name.lower() not in actives:
                actives[name.lower()] = entry
    return {"brand_names": brands, "generic_names": generics, "active_ingredients": list(actives.values())}


def _title(root: etree._Element, products: dict[str, Any], set_id: str) -> str:
    """The product line of the document title, or one built from the product names."""
    title_el = root.find("v:title", _NS)
    lines = _text_lines(title_el) if title_el is not None else []
    title = " ".join(line for line in lines if not _TITLE_NOISE.match(line)).strip()
    if title and title.lower() not in _GENERIC_TITLES:
        return title
    brand = ", ".join(products["brand_names"][:3])
    generic = ", ".join(g for g in products["generic_names"] if g.lower() != brand.lower())
    if brand and generic:
        return f"{brand} ({generic}) drug label"
    if brand or generic:
        return f"{brand or generic} drug label"
    return f"Drug label {set_id}"


def _effective_date(value: str) -> tuple[int | None, str | None]:
    if not re.match(r"^\d{8}", value):
        return None, None
    return int(value[:4]), f"{value[:4]}-{value[4:6]}-{value[6:8]}"


# ---------------------------------------------------------------- reader


def _parse(path: Path) -> etree._Element:
    root = parse_xml(path)
    if root.tag != f"{{{NS}}}document":
        raise ReaderError(str(path), f"not an SPL drug label (root element is <{etree.QName(root).localname}>)")
    return root


class SplReader:
    """An FDA drug label in SPL XML (DailyMed / openFDA): one document per file."""

    name = "spl"

    def sniff(self, path: Path, head: bytes) -> bool:
        return b"urn:hl7-org:v3" in head and b"<document" in head

    def read(self, path: Path) -> Iterator[ParsedDocument | Skipped]:
        root = _parse(path)
        doc_id = _attr(root, "v:id", "root")
        set_id = _attr(root, "v:setId", "root") or doc_id
        if not set_id:
            raise ReaderError(str(path), "SPL document has neither a setId nor an id")
        walker = _SectionWalker()
        for section in root.iterfind("v:component/v:structuredBody/v:component/v:section", _NS):
            walker.walk(section, [], None)
        if not walker.sections:
            raise ReaderError(str(path), "SPL document has no section text")
        products = _products(root)
        year, date = _effective_date(_attr(root, "v:effectiveTime", "value"))
        version = _attr(root, "v:versionNumber", "value")
        manufacturer = root.find("v:author/v:assignedEntity/v:representedOrganization/v:name", _NS)
        metadata: dict[str, Any] = {
            "set_id": set_id,
            "document_id": doc_id,
            "label_version": int(version) if version.isdigit() else None,
            "effective_date": date,
            "label_type": _attr(root, "v:code", "displayName").lower() or None,
            "manufacturer": _inline(manufacturer) if manufacturer is not None else None,
            **products,
        }
        yield ParsedDocument(
            external_id=set_id,
            title=_title(root, products, set_id),
            sections=walker.sections,
            url=DAILYMED_URL.format(set_id),
            publisher=PUBLISHER,
            year=year,
            doc_type="drug label",
            metadata=metadata,
        )
