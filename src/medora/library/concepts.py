"""Concepts named by a document's own metadata: drugs (brand, generic, substance names) and conditions.

The library keeps a concept index (``concepts``, ``concept_names``, ``concept_documents``) in step
with its documents: every store's ``write_batch`` replaces a document's links with what
``concepts_of`` finds in it, and ``retire`` removes them. Drug labels (SPL, openFDA) give one drug
concept per label, keyed by its ingredients' base names (salt words dropped), so every label of
warfarin, "warfarin sodium" or brand Coumadin, points at the same concept; MedQuAD gives its focus
and UMLS synonyms; MedlinePlus topics and USPSTF topics give their titles as conditions
("Colorectal Cancer: Screening" -> colorectal cancer).
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

KINDS = ("drug", "condition", "test", "procedure")
NAME_KINDS = ("preferred", "brand", "generic", "substance", "synonym")
MAX_NAME_WORDS = 8  # longer "names" (sentences in a synonym list) are not indexed
MIN_NAME_CHARS = 3

# Salt and hydrate words that follow an ingredient's base name ("warfarin sodium", "sertraline HCl").
SALT_WORDS = frozenset("""
    hydrochloride hcl dihydrochloride sodium potassium calcium magnesium citrate maleate besylate besilate mesylate
    succinate tartrate bitartrate sulfate sulphate phosphate acetate fumarate bromide hydrobromide hyclate
    monohydrate dihydrate trihydrate hemihydrate anhydrous hemifumarate lactate gluconate nitrate chloride
    propionate dipropionate valerate disodium dimesylate tromethamine xinafoate monosodium pamoate benzoate
    oxalate malate hemitartrate edisylate napsylate furoate erbumine medoxomil axetil proxetil
""".split())
# Semantic types (UMLS) of a MedQuAD focus that are not conditions.
_SEMANTIC_KIND = {"T121": "drug", "T109": "drug", "T200": "drug", "T195": "drug", "T116": "drug", "T127": "drug",
                  "T123": "drug", "T125": "drug", "T129": "drug", "T197": "drug", "T196": "drug",
                  "T059": "test", "T060": "test", "T034": "test", "T061": "procedure", "T058": "procedure"}
# USPSTF topic titles: "Condition in Population: Service" -> the condition.
_POPULATION = re.compile(r"\s+(?:in|among|for)\s+(?:(?:young|older|pregnant|nonpregnant|postmenopausal|"
                         r"community-dwelling)\s+)*(?:adults?|children|adolescents|infants|women|men|persons|"
                         r"people|newborns|individuals)\b.*$", re.IGNORECASE)
_PURPOSE = re.compile(r"^(?:prevention of|primary prevention of)\s+"
                      r"|\s+(?:to prevent|for the (?:primary )?prevention of)\s+.*$", re.IGNORECASE)
_PARENTHESIS = re.compile(r"\s*\([^)]*\)")
_SPLIT_INGREDIENTS = re.compile(r"\s*(?:,|;|\band\b|/|\+|\bwith\b)\s*", re.IGNORECASE)
_NON_WORD = re.compile(r"[^\w]+")


def normalize_name(text: str) -> str:
    """The lookup key of a name or a question's n-gram: lower case, no accents or punctuation, simple
    plurals singular ("Migraines" -> "migraine", "allergies" -> "allergy"); "" when nothing is left.
    (The key reads an acronym's final S as a plural too, so "HDLS" and "HDL" share a key: the resolver
    tells them apart by the words as written, ``retrieve/concepts.py``.)"""
    return " ".join(singular(w.lower()) for w in name_words(text))


def name_words(text: str) -> list[str]:
    """The words of a name as written (case kept) that ``normalize_name`` makes its key of, one for one."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = text.replace("'s", "").replace("\u2019s", "")
    return _NON_WORD.sub(" ", text).replace("_", " ").split()


_RELEASE_SUFFIX = re.compile(r"^(.{3,}?)\s+(ER|XR|SR|CR|XL|DR|LA|ODT|EC|CD|XT|SA|Extended[- ]Release)$", re.I)


def singular(word: str) -> str:
    """A lower-case word without a regular plural ending ("ies" -> "y", "s" but not "ss"/"us"/"is")."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "ys")):
        return word[:-1]
    return word


@dataclass
class DocumentConcept:
    """One concept a document is about, with the names it gives it: [(name as written, name kind)]."""

    kind: str
    preferred: str
    key: str
    names: list[tuple[str, str]] = field(default_factory=list)

    def name_rows(self) -> list[tuple[str, str, str]]:
        """(name, normalized name, name kind) once per normalized name and kind, indexable names only."""
        out: dict[tuple[str, str], str] = {}
        for name, name_kind in [(self.preferred, "preferred"), *self.names]:
            name = " ".join(name.split())
            norm = normalize_name(name)
            if len(norm) >= MIN_NAME_CHARS and len(norm.split()) <= MAX_NAME_WORDS and not norm.isdigit():
                out.setdefault((norm, name_kind), name)
        return [(name, norm, kind) for (norm, kind), name in out.items()]


def base_name(ingredient: str) -> str:
    """An ingredient without its salt or hydrate words: "Warfarin Sodium" -> "warfarin"."""
    words = normalize_name(_PARENTHESIS.sub(" ", ingredient)).split()
    while len(words) > 1 and words[-1] in SALT_WORDS:
        words.pop()
    return " ".join(words)


def ingredients(generic: str) -> list[str]:
    """The base names of a generic name's ingredients ("Diphenhydramine HCl, Phenylephrine HCl" -> two)."""
    out: dict[str, None] = {}
    for part in _SPLIT_INGREDIENTS.split(generic):
        base = base_name(part)
        if base and base not in SALT_WORDS:
            out[base] = None
    return list(out)


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, dict):
        return _strings(value.get("name"))
    if isinstance(value, Iterable):
        return [s for v in value for s in _strings(v)]
    return [str(value)]


def drug_concept(metadata: dict[str, Any]) -> DocumentConcept | None:
    """The drug concept of a label's metadata (openFDA ``generic_names``/``brand_names``/``substance_names``,
    SPL ``active_ingredients``), or None when it names no ingredient."""
    generics = _strings(metadata.get("generic_names") or metadata.get("generic_name"))
    substances = _strings(metadata.get("substance_names") or metadata.get("substance_name")
                          or metadata.get("active_ingredients"))
    brands = _strings(metadata.get("brand_names") or metadata.get("brand_name"))
    parts: dict[str, None] = {}
    for name in generics or substances:
        parts.update(dict.fromkeys(ingredients(name)))
    if not parts:
        return None
    preferred = " and ".join(sorted(parts))
    names = [(g, "generic") for g in generics]
    if len(parts) == 1:  # a combination's substances would each resolve to the combination
        names += [(s, "substance") for s in substances] + [(b, "generic") for b in parts]
    names += [(b, "brand") for b in brands]
    # "Depakote ER", "Wellbutrin XL": people write the brand without its release suffix.
    names += [(m.group(1), "brand") for b in brands if (m := _RELEASE_SUFFIX.match(b))]
    return DocumentConcept("drug", preferred, normalize_name(preferred), names)


def drug_concepts(metadata: dict[str, Any]) -> list[DocumentConcept]:
    """A label's drug concept and, for a combination, each ingredient's own concept (the label of
    "amoxicillin and clavulanate" is also about amoxicillin: a question naming amoxicillin finds it)."""
    main = drug_concept(metadata)
    if main is None or " and " not in main.preferred:
        return [main] if main else []
    out = [main]
    substances = _strings(metadata.get("substance_names") or metadata.get("substance_name")
                          or metadata.get("active_ingredients"))
    for part in main.preferred.split(" and "):
        names = [(s, "substance") for s in substances if base_name(s) == part]
        out.append(DocumentConcept("drug", part, normalize_name(part), names))
    return out


def condition_title(title: str) -> str:
    """The condition a topic title names: "Hepatitis B Virus Infection in Adolescents and Adults: Screening"
    -> "Hepatitis B Virus Infection"; "Aspirin Use to Prevent Preeclampsia ..." -> "Preeclampsia ..."."""
    head = title.split(":", 1)[0].strip()
    purpose = re.search(r"\bto prevent\s+(.*)$", head, re.IGNORECASE)
    if purpose:
        head = purpose.group(1)
    head = _PURPOSE.sub("", head)
    head = _POPULATION.sub("", head)
    head = re.sub(r"\s+and related\b.*$|\s+use$", "", head, flags=re.IGNORECASE)
    return " ".join(head.split()).strip(" ,.;-")


def _condition(preferred: str, synonyms: Iterable[str] = (), kind: str = "condition") -> DocumentConcept | None:
    preferred = " ".join(preferred.split())
    key = normalize_name(preferred)
    if len(key) < MIN_NAME_CHARS:
        return None
    names = [(s, "synonym") for s in synonyms]
    bare = _PARENTHESIS.sub("", preferred).strip()
    if bare and bare != preferred:
        names.append((bare, "synonym"))
    return DocumentConcept(kind, preferred, key, names)


def concepts_of(title: str, doc_type: str, metadata: dict[str, Any] | None) -> list[DocumentConcept]:
    """The concepts a document is about, from its metadata and title (empty for articles and abstracts)."""
    meta = metadata or {}
    found: list[DocumentConcept | None] = []
    if doc_type == "drug label":
        found.extend(drug_concepts(meta))
    elif meta.get("focus") is not None and "synonyms" in meta:  # MedQuAD
        types = _strings(meta.get("semantic_types"))
        kind = next((_SEMANTIC_KIND[t] for t in types if t in _SEMANTIC_KIND), "condition")
        found.append(_condition(str(meta.get("focus") or title), _strings(meta.get("synonyms")), kind))
    elif meta.get("kind") == "topic" or meta.get("topic_title"):  # USPSTF topics and their recommendations
        topic = str(meta.get("topic_title") or title)
        found.append(_condition(condition_title(topic)))
    elif doc_type == "patient information":  # MedlinePlus health topics: the title is the topic
        found.append(_condition(title))
    return [c for c in found if c is not None]


# ---------------------------------------------------------------- keeping the index in step (both stores)

Execute = Callable[..., Any]  # execute(sql with ? placeholders, params) -> cursor with fetchone/fetchall


def unlink_documents(execute: Execute, doc_ids: Iterable[int]) -> None:
    """Remove the documents' names and links, and the concepts no document is about any more."""
    for doc_id in doc_ids:
        execute("DELETE FROM concept_names WHERE document_id = ?", (doc_id,))
        old = [r[0] for r in execute("DELETE FROM concept_documents WHERE document_id = ? RETURNING concept_id",
                                     (doc_id,)).fetchall()]
        for concept_id in old:
            execute("DELETE FROM concepts WHERE id = ? AND NOT EXISTS"
                    " (SELECT 1 FROM concept_documents l WHERE l.concept_id = ?)", (concept_id, concept_id))


def link_document(execute: Execute, doc_id: int, concepts: list[DocumentConcept], *, fresh: bool = False) -> None:
    """Make the document's concept links and names exactly ``concepts`` (``fresh``: it has none yet)."""
    if not fresh:
        execute("DELETE FROM concept_names WHERE document_id = ?", (doc_id,))
        old = {r[0] for r in execute("DELETE FROM concept_documents WHERE document_id = ? RETURNING concept_id",
                                     (doc_id,)).fetchall()}
    else:
        old = set()
    kept = set()
    for concept in concepts:
        concept_id = execute(
            "INSERT INTO concepts(kind, preferred, key) VALUES (?, ?, ?)"
            " ON CONFLICT (kind, key) DO UPDATE SET kind = excluded.kind RETURNING id",
            (concept.kind, concept.preferred, concept.key)).fetchone()[0]
        kept.add(concept_id)
        execute("INSERT INTO concept_documents(concept_id, document_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (concept_id, doc_id))
        for name, norm, name_kind in concept.name_rows():
            execute("INSERT INTO concept_names(concept_id, document_id, name, norm, name_kind) VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING", (concept_id, doc_id, name, norm, name_kind))
    for concept_id in old - kept:
        execute("DELETE FROM concepts WHERE id = ? AND NOT EXISTS"
                " (SELECT 1 FROM concept_documents l WHERE l.concept_id = ?)", (concept_id, concept_id))


def rebuild(execute: Execute) -> dict[str, int]:
    """Remake the whole index from the active documents (inside the caller's transaction); counts made."""
    execute("DELETE FROM concept_names")
    execute("DELETE FROM concept_documents")
    execute("DELETE FROM concepts")
    rows = execute("SELECT id, title, doc_type, metadata FROM documents WHERE status = 'active' ORDER BY id").fetchall()
    for doc_id, title, doc_type, metadata in rows:
        meta = json.loads(metadata) if isinstance(metadata, str) else (metadata or {})
        link_document(execute, doc_id, concepts_of(title, doc_type, meta), fresh=True)
    return index_counts(execute)


def index_counts(execute: Execute) -> dict[str, int]:
    one = lambda q: int(execute(q, ()).fetchone()[0])  # noqa: E731
    return {"concepts": one("SELECT COUNT(*) FROM concepts"), "names": one("SELECT COUNT(*) FROM concept_names"),
            "links": one("SELECT COUNT(*) FROM concept_documents")}


NAME_ROWS_SQL = ("SELECT DISTINCT c.id, c.kind, c.preferred, n.norm, n.name, n.name_kind"
                 " FROM concept_names n JOIN concepts c ON c.id = n.concept_id ORDER BY c.id, n.norm, n.name_kind")
LINK_ROWS_SQL = "SELECT concept_id, document_id FROM concept_documents ORDER BY concept_id, document_id"
