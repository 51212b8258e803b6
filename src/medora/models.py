"""The objects that cross module boundaries.

Library side (dataclasses, built in bulk): Source, Document, Passage, SearchHit.
Answer side (pydantic, serialised as the versioned JSON answer format): Citation, Statement,
AnswerSection, Reference, Answer. ``Answer.model_json_schema()`` documents the JSON output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

ANSWER_SCHEMA = "medora.answer/1"


# ------------------------------------------------------------------------------ library side


@dataclass
class Source:
    """A collection documents come from (MedQuAD, USPSTF, a user's folder...)."""

    name: str
    publisher: str | None = None
    license: str | None = None
    url: str | None = None
    version: str | None = None
    attribution: str | None = None
    ingested_at: str | None = None
    id: int | None = None


@dataclass
class Document:
    """A stored document: one guideline topic, abstract, label, patient page..."""

    id: int
    source: str
    external_id: str
    title: str
    url: str | None
    publisher: str | None
    year: int | None
    doc_type: str
    grade: str | None
    license: str | None
    version: int
    status: str  # "active" | "retired"
    metadata: dict[str, Any] = field(default_factory=dict)
    updated_at: str | None = None


@dataclass
class Passage:
    """A chunk of a document under one section path; ``sentences`` are (start, end) offsets into ``text``."""

    id: int
    document_id: int
    ordinal: int
    section_path: list[str]
    section_type: str | None
    text: str
    sentences: list[tuple[int, int]]

    def sentence_texts(self) -> list[str]:
        return [self.text[a:b] for a, b in self.sentences]


@dataclass
class SearchHit:
    """A passage returned by retrieval with its score (higher is better) and rank (1-based)."""

    passage: Passage
    document: Document
    score: float
    rank: int
    scores: dict[str, float] = field(default_factory=dict)


# ------------------------------------------------------------------------------- answer side


class Citation(BaseModel):
    """Where a statement comes from: the exact quoted text and its offsets in the cited passage."""

    ref: int = Field(description="Number of the reference in Answer.references (1-based)")
    passage_id: int
    document_id: int
    quote: str = Field(description="The source text, exactly as stored: passage.text[start:end]")
    start: int
    end: int


class Statement(BaseModel):
    """One sentence of the answer. In extractive mode its text is (a light trim of) its first citation's quote."""

    text: str
    citations: list[Citation]
    kind: Literal["bullet", "step", "sentence", "reviewer_note"] = "bullet"


class CrisisContact(BaseModel):
    name: str
    contact: str
    region: str | None = None


class Emergency(BaseModel):
    """Shown before anything else when the question describes an emergency happening now."""

    categories: list[str]
    notice: str
    crisis: list[CrisisContact] = Field(default_factory=list)


class Difference(BaseModel):
    """Two cited statements from different sources that point in different directions."""

    topic: str
    statements: list[int] = Field(description="Indexes into Answer.statements() of the statements that differ")
    note: str


class GlossaryEntry(BaseModel):
    term: str
    explanation: str
    source: str = Field("medora-glossary", description="medora-glossary (ours) or the library source it came from")


class SearchedQuestion(BaseModel):
    """The question as it was searched: chatter removed (by kind, never its text), abbreviations, spelling."""

    text: str
    removed: list[str] = Field(default_factory=list, description="Kinds of chatter removed, e.g. 'greeting'")
    expansions: dict[str, str] = Field(default_factory=dict, description="Abbreviation -> expansion searched")
    corrections: dict[str, str] = Field(default_factory=dict, description="Word as written -> word searched")
    drugs: dict[str, str] = Field(default_factory=dict, description="Drug name as written -> generic name")
    concepts: dict[str, str] = Field(default_factory=dict, description="Brand or misspelt drug name as written -> "
                                     "the library concept's generic name searched, e.g. Coumadine -> warfarin")
    notes: list[str] = Field(default_factory=list)


class GenerationReport(BaseModel):
    """Generated mode only: what the model wrote and what the checker kept."""

    model: str
    statements_generated: int
    statements_kept: int
    dropped: list[dict] = Field(default_factory=list, description="Each dropped statement with the reason")


class AnswerSection(BaseModel):
    key: str = Field(description="Section kind, e.g. 'definition', 'symptoms', 'treatment'")
    heading: str
    statements: list[Statement]


class LiveProvenance(BaseModel):
    """Where and when a live search found a document (sources pubmed-live, openfda-live)."""

    service: str = Field(description="PubMed or openFDA")
    query: str | None = Field(None, description="The search sent (the cleaned, redacted question's words)")
    retrieved_at: str = Field(description="When it was retrieved (UTC, ISO 8601)")
    id: str | None = Field(None, description="PMID or set_id")
    url: str | None = None


class LiveSearch(BaseModel):
    """What the live search of outside sources did for this answer (``live`` setting, ``--live``)."""

    searched: bool = Field(description="False when `auto` found the library's evidence sufficient")
    finished: bool = Field(description="False when the deadline passed before every service answered")
    services: list[str] = Field(default_factory=list)
    documents_added: int = 0
    errors: list[str] = Field(default_factory=list)
    seconds: float = 0.0
    notices: list[str] = Field(default_factory=list)


class FrameConcept(BaseModel):
    name: str = Field(description="The concept's preferred name in the library (a generic name for a drug)")
    kind: str = Field(description="drug, condition, test or procedure")
    as_written: str
    matched: str = Field(description="The library name it matched (a brand, synonym or the name itself)")
    fuzzy: bool = Field(False, description="Matched as a likely misspelling")
    documents: int = 0


class QuestionFrameView(BaseModel):
    """The question frame (``answer/frame.py``) as the answer shows it."""

    label: str = Field(description='What the answer is answering, e.g. "citalopram · maximum dose"')
    concepts: list[FrameConcept] = Field(default_factory=list)
    focus_kind: str | None = None
    aspect: str
    aspect_source: str = Field(description="rule, model or default")
    aspect_confidence: float
    population: list[str] = Field(default_factory=list)
    form: str = Field(description="yes_no, how_much, when, which, how, compare, what or open")
    yes_no: bool
    details: list[str] = Field(default_factory=list, description="What else the question names beyond its focus, "
                               'words rare in the library ("expiration", "date" for "past the expiration date")')
    unknown_names: list[str] = Field(default_factory=list, description="Names the question writes that the library "
                                     'has no drug label or topic for, as written ("Zoloft")')


class Reference(BaseModel):
    number: int
    document_id: int
    source: str
    title: str
    publisher: str | None = None
    year: int | None = None
    url: str | None = None
    doc_type: str
    grade: str | None = None
    section: str | None = Field(None, description="Section path of the first cited passage")
    evidence_label: str = Field(description="Human label: document type, grade, year")
    live: LiveProvenance | None = Field(None, description="Set when the document came from a live search")


class Answer(BaseModel):
    """A composed answer article. Serialised with ``model_dump_json`` as the JSON output format."""

    answer_schema: str = Field(ANSWER_SCHEMA, alias="schema")
    question: str
    title: str
    audience: str = "clinician"
    question_type: str
    status: Literal["answered", "insufficient_evidence", "invalid_question"]
    bottom_line: list[Statement] = Field(default_factory=list)
    sections: list[AnswerSection] = Field(default_factory=list)
    references: list[Reference] = Field(default_factory=list)
    closest_sources: list[Reference] = Field(
        default_factory=list, description="When evidence is insufficient: the nearest documents, uncited"
    )
    message: str | None = Field(None, description="Plain explanation when status is not 'answered'")
    emergency: Emergency | None = Field(None, description="Emergency notice; renderers show it first")
    notices: list[str] = Field(default_factory=list, description="Notes to the reader, e.g. personal details removed")
    verdict: Literal["yes", "no", "unclear"] | None = Field(
        None, description="For a yes/no question: the bottom line's direction, read from the cited conclusion"
    )
    evidence_strength: str | None = Field(None, description="Overall strength of the cited evidence, in words")
    differences: list[Difference] = Field(default_factory=list, description="Where sources differ")
    glossary: list[GlossaryEntry] = Field(default_factory=list)
    follow_ups: list[str] = Field(default_factory=list, description="Suggested follow-up questions")
    thread_id: str | None = None
    searched_as: SearchedQuestion | None = None
    frame: QuestionFrameView | None = Field(None, description="What Medora read the question as asking")
    evidence_scope: str | None = Field(
        None, description="Where the quoted evidence came from: focus sections, focus documents, search results")
    verdict_basis: str | None = Field(None, description="What the yes/no verdict rests on, in words")
    verdict_note: str | None = Field(None, description="Said instead of yes or no when no source takes a stance")
    generation: GenerationReport | None = None
    live: LiveSearch | None = Field(None, description="The live search of outside sources, when it was on")
    disclaimer: str
    scores: dict[str, float] = Field(default_factory=dict)
    timings_ms: dict[str, float] = Field(default_factory=dict)

    model_config = {"populate_by_name": True}

    def statements(self) -> list[Statement]:
        out = list(self.bottom_line)
        for section in self.sections:
            out.extend(section.statements)
        return out
