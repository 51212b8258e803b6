"""Medications to drug labels in the library: by RxNorm code, then by name through the concept index.

An RxNorm code resolves when a label lists it (openFDA labels carry their products' RxCUIs). Otherwise
the medication's text and displays are looked up in the concept index (``retrieve.concepts``: brand,
generic and substance names, exact after normalization, never a fuzzy guess), keeping its drug-label
documents. Among several labels of one drug the one the order names by brand, then a single-ingredient
prescription label, is used. A medication that resolves to no label stays unresolved: cards list it,
and nothing is checked for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medora.cds.context import Medication
from medora.library.concepts import ingredients, normalize_name
from medora.models import Document
from medora.publish.database import Store, transaction
from medora.retrieve.concepts import common_words, resolve_concepts

MIN_NAME_CHARS = 4


@dataclass(frozen=True)
class LabelDrug:
    """A medication resolved to one drug label."""

    name: str  # generic name(s), lower case: "clopidogrel"
    label: Document
    names: tuple[str, ...]  # what a label sentence may call it: generic, brand and substance names
    medication: Medication

    @property
    def brand(self) -> str:
        brands = _strings(self.label.metadata.get("brand_names"))
        return brands[0] if brands else self.label.title

    def mentioned_in(self, sentence: str) -> bool:
        return any(re.search(rf"\b{re.escape(n)}\b", sentence, re.I) for n in self.names)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v.strip()]
    return []


def _generics(label: Document) -> list[str]:
    meta = label.metadata
    out: dict[str, None] = {}
    for name in _strings(meta.get("generic_names")) or _strings(meta.get("substance_names")):
        out.update(dict.fromkeys(ingredients(name)))
    return list(out)


def _names(label: Document) -> tuple[str, ...]:
    """Generic and substance base names, and brand names unless made of common English words ("Sure")."""
    meta = label.metadata
    common = common_words()
    brands = [b for b in _strings(meta.get("brand_names"))
              if not all(normalize_name(w) in common for w in b.split())]
    names = [*_generics(label), *brands]
    for substance in _strings(meta.get("substance_names")) + _strings(meta.get("generic_names")):
        names.extend(ingredients(substance))
    return tuple(dict.fromkeys(n.lower() for n in names if len(n) >= MIN_NAME_CHARS))


class DrugResolver:
    """Resolves medications against the active drug labels of one library (built per request)."""

    def __init__(self, store: Store):
        self.store = store
        with transaction(store, write=False) as db:
            ids = [row[0] for row in db.execute("SELECT id FROM documents WHERE doc_type = ? AND status = ?",
                                                ("drug label", "active"))]
        self.labels: dict[int, Document] = store.documents(ids) if ids else {}
        self.by_rxcui: dict[str, list[int]] = {}
        for doc in self.labels.values():
            for code in _strings(doc.metadata.get("rxcui")):
                self.by_rxcui.setdefault(code, []).append(doc.id)

    def resolve(self, medication: Medication) -> list[LabelDrug]:
        """The drug(s) a medication names (a combination product: one per ingredient label); [] if unknown."""
        coded = [d for code in medication.rxnorm for d in self.by_rxcui.get(code, [])]
        if coded:
            return [self._drug(self._choose(coded, medication), medication)]
        groups: dict[int, list[int]] = {}
        for text in medication.texts:
            for match in resolve_concepts(self.store, text, fuzzy=False):
                docs = [d for d in match.doc_ids if d in self.labels and self._names_all(self.labels[d], medication)]
                if match.kind == "drug" and docs:
                    groups.setdefault(match.concept_id, docs)
        return [self._drug(self._choose(docs, medication), medication) for docs in groups.values()]

    @staticmethod
    def _names_all(label: Document, medication: Medication) -> bool:
        """The medication names the label's product: its brand, or every one of its ingredients (a fluoxetine
        order is not the olanzapine and fluoxetine combination)."""
        text = normalize_name(" ".join(medication.texts))
        named = [normalize_name(b) for b in _strings(label.metadata.get("brand_names"))]
        if any(n and f" {n} " in f" {text} " for n in named):
            return True
        generics = [normalize_name(g) for g in _generics(label)]
        return bool(generics) and all(f" {g} " in f" {text} " for g in generics)

    def _choose(self, doc_ids: list[int], medication: Medication) -> Document:
        text = " ".join(medication.texts).lower()

        def rank(doc: Document) -> tuple:
            meta = doc.metadata
            brand_named = any(re.search(rf"\b{re.escape(b.lower())}\b", text)
                              for b in _strings(meta.get("brand_names")))
            rxcui = bool(set(medication.rxnorm) & set(_strings(meta.get("rxcui"))))
            prescription = "PRESCRIPTION" in str(meta.get("product_type", "")).upper()
            return (not rxcui, not brand_named, len(_generics(doc)) != 1, not prescription, doc.id)

        return min((self.labels[d] for d in dict.fromkeys(doc_ids)), key=rank)

    @staticmethod
    def _drug(label: Document, medication: Medication) -> LabelDrug:
        generics = _generics(label)
        name = " and ".join(generics) if generics else label.title
        return LabelDrug(name.lower(), label, _names(label), medication)
