"""Compose an answer article, one step after another: safety, retrieval, the question frame
(``answer/frame.py``), evidence anchored to it (``answer/anchor.py``), sentence selection
(``answer/select.py``), the bottom line and its stance (``answer/stance.py``), sections, citations
and judgements.

Extractive by default: every statement is a sentence (light trim only) of the passage it cites,
with the exact quote and its offsets, so no statement can say what its source does not. With a
generator, a model writes the sentences and ``answer/check.py`` keeps only those its cited
passages support.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, replace

from medora.answer.anchor import AUTHORITY_ASPECTS, Evidence, gather
from medora.answer.aspect import ASPECT_LABELS
from medora.answer.audience import AudienceProfile, answer_grade, glossary_for, profile
from medora.answer.check import check_statements
from medora.answer.evidence import (
    Candidate,
    evidence_coverage,
    fit_reading_grade,
    near_duplicate,
    section_key_for,
)
from medora.answer.followups import suggest
from medora.answer.frame import DRUG_WORDS, QuestionFrame, build_frame
from medora.answer.generate import client_from_spec, generate_answer, number_evidence
from medora.answer.judgements import differences, evidence_strength, verdict
from medora.answer.sections import HEADINGS
from medora.answer.select import (
    ASPECT_CUES,
    answers_frame,
    bottom_line,
    effect_stance,
    frame_candidates,
    leans_back,
    previous_start,
)
from medora.answer.semantic import aspect_vector, question_vector
from medora.answer.stance import take_stance
from medora.answer.threads import open_thread, record_turn, rewrite
from medora.errors import UsageError
from medora.library.store import LibraryStore
from medora.models import (
    Answer,
    AnswerSection,
    Citation,
    CrisisContact,
    Document,
    Emergency,
    QuestionFrameView,
    Reference,
    SearchedQuestion,
    SearchHit,
    Statement,
)
from medora.retrieve.query import content_terms, stems
from medora.retrieve.search import Retriever
from medora.retrieve.terms import TermWeights
from medora.retrieve.understand import QuestionKind, classify
from medora.safety import check_red_flags, redact_phi, user_notice
from medora.settings import Settings

MAX_QUESTION_CHARS = 2000
CARRY_FOCUS = 4  # focus terms a thread turn passes to its follow-ups

INSUFFICIENT = (
    "The library does not hold enough evidence to answer this question, so Medora will not guess. "
    "The closest sources are listed below; they were not judged to answer it."
)


def evidence_label(doc: Document) -> str:
    parts = [doc.doc_type.capitalize()]
    if doc.grade:
        parts.append(f"Grade {doc.grade}")
    if doc.year:
        parts.append(str(doc.year))
    return " · ".join(parts)


def _concept_notice(concepts: dict[str, str]) -> list[str]:
    """One notice naming drugs searched by the library concept's generic name ("Coumadine → warfarin")."""
    if not concepts:
        return []
    return ["Drug names: searched as " + ", ".join(f"{old} → {new}" for old, new in concepts.items()) + "."]


def _spelling_notice(corrections: dict[str, str]) -> list[str]:
    """One reader notice naming the words searched in place of what was written (none when nothing was)."""
    if not corrections:
        return []
    pairs = ", ".join(f"“{new}” for “{old}”" for old, new in corrections.items())
    return [f"Spelling: searched {pairs}."]


def _title(question: str) -> str:
    q = " ".join(question.split())
    q = q[:1].upper() + q[1:]
    return q if q.endswith("?") else q.rstrip(".") + "?"


class _Citations:
    """Numbers references by first citation and builds Citation objects."""

    def __init__(self) -> None:
        self.numbers: dict[int, int] = {}
        self.references: list[Reference] = []

    def cite(self, c: Candidate) -> Citation:
        doc = c.hit.document
        if doc.id not in self.numbers:
            self.numbers[doc.id] = len(self.numbers) + 1
            self.references.append(reference(doc, self.numbers[doc.id], c.hit.passage.section_path))
        return Citation(
            ref=self.numbers[doc.id],
            passage_id=c.hit.passage.id,
            document_id=doc.id,
            quote=c.text,
            start=c.start,
            end=c.end,
        )


def reference(doc: Document, number: int, section_path: list[str] | None = None) -> Reference:
    return Reference(
        number=number,
        document_id=doc.id,
        source=doc.source,
        title=doc.title,
        publisher=doc.publisher,
        year=doc.year,
        url=doc.url,
        doc_type=doc.doc_type,
        grade=doc.grade,
        section=" › ".join(section_path) if section_path else None,
        evidence_label=evidence_label(doc),
        live=doc.metadata.get("live"),  # provenance of a live search's document (sources/online/live.py)
    )


@dataclass
class Asked:
    """The question after the safety step: redacted text, what to search, notices, emergency."""

    text: str
    search_text: str
    notices: list[str]
    emergency: Emergency | None


def check_safety(question: str, prof: AudienceProfile) -> Asked:
    """Step 1, before anything is searched or stored: personal details out, red flags in."""
    question = (question or "").replace("\x00", " ").strip()
    if len(question) > MAX_QUESTION_CHARS:
        raise UsageError(f"question is too long ({len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,})")
    phi = redact_phi(question)
    flags = check_red_flags(phi.search_text())
    emergency = None
    if flags.triggered:
        notice = f"{flags.notice} {prof.emergency_note}".strip()
        emergency = Emergency(categories=flags.categories, notice=notice,
                              crisis=[CrisisContact(name=c.name, contact=c.contact, region=c.region)
                                      for c in flags.crisis])
    return Asked(phi.text, phi.search_text(), [n for n in [user_notice(phi)] if n], emergency)


def frame_question(store: LibraryStore, query: str, cleaned=None) -> QuestionFrame:
    """Step 3: focus concepts, aspect, population and form of the question search cleaned (the concepts
    its ``concepts`` step found are reused; the aspect model reads the question's vector)."""
    concepts = cleaned.matches if cleaned is not None else None
    return build_frame(store, query, embed=aspect_vector, concepts=concepts)


def with_guidelines(retriever: Retriever, query: str, hits: list[SearchHit], k: int,
                    preference: dict[str, float]) -> list[SearchHit]:
    """Search results plus the guideline passages a search that prefers guidelines finds: for screening
    and prevention the recommendation leads, so it must be among the evidence when the library has one."""
    preferred = retriever.search(query, k=k, preference={**preference, "guideline": GUIDELINE_PREFERENCE})
    seen = {h.passage.id for h in hits}
    extra = [h for h in preferred.hits if h.document.doc_type == "guideline" and h.passage.id not in seen]
    return hits + extra


GUIDELINE_PREFERENCE = 0.5


def anchor_evidence(store: LibraryStore, retriever: Retriever, frame: QuestionFrame, query: str,
                    hits: list[SearchHit], settings: Settings, prof: AudienceProfile) -> Evidence:
    """Step 4: the evidence anchored to the frame (for screening and prevention, with the guideline
    passages a guideline-preferring search finds)."""
    if frame.aspect in AUTHORITY_ASPECTS:
        hits = with_guidelines(retriever, query, hits, settings.top_k, prof.source_preference)
    return gather(store, frame, hits, prof.lead_sections)


def quoted(words: tuple[str, ...]) -> str:
    """“a”, “b” or “c” — words of the question as a notice quotes them."""
    return " or ".join(", ".join(f"“{w}”" for w in words).rsplit(", ", 1))


def unnamed_details_notice(frame: QuestionFrame, evidence: Evidence) -> list[str]:
    """When no source about the drug names what else the question asks about ("sertraline … premature
    ejaculation"), say so: the answer that follows is about the drug, not about that."""
    if not frame.details or frame.focus_kind != "drug" or evidence.scope not in ("focus sections", "focus documents"):
        return []  # a condition question's details only order its sentences: its wording is looser (“option”)
    if any(frame.names_details(h.passage.text) for h in evidence.hits):
        return []
    names = " or ".join(dict.fromkeys(c.preferred for c in frame.focus))
    asked = quoted(frame.details)
    return [f"No source about {names} here mentions {asked}: what follows is what they say about {names}, "
            "not an answer about that."]


def unknown_names_notice(frame: QuestionFrame) -> list[str]:
    """When a question about medicines names one the library has no label or page for ("Buspar", "Zoloft":
    a brand it cannot link to a generic name), say so rather than let another source stand in for it."""
    if not frame.unknown_names or not (frame.focus_kind == "drug" or DRUG_WORDS.search(frame.question)):
        return []
    names = quoted(frame.unknown_names)
    return [f"This library has no drug label or health topic for {names}, so nothing here is quoted from one; "
            "if it is a brand name, asking with the generic name may find its label."]


class _Clock:
    """Milliseconds per step, for the answer's ``timings_ms``."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.ms: dict[str, float] = {}
        self._last = self.t0

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.ms[name] = self.ms.get(name, 0.0) + (now - self._last) * 1000
        self._last = now

    def done(self) -> dict[str, float]:
        self.ms["total"] = (time.perf_counter() - self.t0) * 1000
        return _round(self.ms)


def answer_question(store: LibraryStore, question: str, settings: Settings, audience: str = "clinician",
                    retriever: Retriever | None = None, thread: str | None = None,
                    generator: str | None = None) -> Answer:
    """One question through the chain: safety, retrieve (which cleans the question), frame, select,
    compose, judge.

    Safety first: personal details are removed from the question before it is searched, stored
    or logged, and an emergency notice is attached before retrieval runs. ``thread`` ("new" or
    a thread id) reads the question as a follow-up of the thread's earlier questions.
    ``generator`` ("openai:BASE_URL:MODEL") writes the prose with a model; every generated
    statement is then checked against the passages it cites and kept only if they support it.
    Rendering (``answer/render.py``) is the caller's last step.
    """
    clock = _Clock()
    prof = profile(audience)
    asked = check_safety(question, prof)
    kind = classify(asked.text)
    base = dict(question=asked.text, title=_title(asked.text) if asked.text else "", audience=audience,
                question_type=kind.kind, disclaimer=prof.disclaimer, emergency=asked.emergency,
                notices=asked.notices)
    if not content_terms(asked.search_text):
        return Answer(status="invalid_question", message="The question has no words Medora can search for.", **base)
    clock.lap("safety")

    thread_id, turns = open_thread(store, thread, audience) if thread else (None, [])
    query = rewrite(asked.search_text, turns)
    base["thread_id"] = thread_id
    retriever = retriever or Retriever(store, mode=settings.retrieval, embedder_spec=settings.embedder,
                                       normalize=settings.question_step_set)
    retrieval = retriever.search(query, k=settings.top_k, preference=prof.source_preference)
    weights = retrieval.weights
    if retrieval.question is not None:
        base["searched_as"] = SearchedQuestion(**retrieval.question.as_dict())
        asked.notices.extend(_spelling_notice(retrieval.question.corrections))
        asked.notices.extend(_concept_notice(retrieval.question.concepts))
    asked.notices.extend(retrieval.notices)  # e.g. searched by words only while vectors are being computed
    clock.lap("retrieve")
    retrieve_ms = retrieval.timings_ms
    if settings.live != "off":  # live evidence (sources/online/live.py): PubMed/openFDA searched, ingested, re-searched
        from medora.sources.online.live import live_retrieval

        retrieval, base["live"] = live_retrieval(store, retriever, query, retrieval, settings, prof.source_preference)
        weights = retrieval.weights
        asked.notices.extend(base["live"].notices)
        clock.lap("live")

    # The aspect is read from what was asked now; a follow-up's focus comes from the thread (the rewritten query).
    frame = frame_question(store, asked.search_text,
                           retrieval.question if "concepts" in settings.question_step_set else None)
    base["frame"] = QuestionFrameView(**frame.as_dict())
    kind = plan_for(frame, kind)
    base["question_type"] = kind.kind
    clock.lap("frame")

    evidence = anchor_evidence(store, retriever, frame, query, retrieval.hits, settings, prof)
    base["evidence_scope"] = evidence.scope
    asked.notices.extend(unknown_names_notice(frame) + unnamed_details_notice(frame, evidence))
    coverage = evidence_coverage(retrieval.hits, weights)  # what search found, before anchoring reorders it
    scores = {"evidence_coverage": round(coverage, 4), "threshold": settings.min_evidence}
    if retrieval.hits:
        scores["top_retrieval"] = round(retrieval.hits[0].score, 4)
    anchored = evidence.scope in ("focus sections", "focus documents")
    if not evidence.hits or (not anchored and coverage < settings.min_evidence):
        clock.lap("select")
        answer = _insufficient(retrieval.hits, scores, base)
    else:
        planned = with_lead_sections(kind, prof.lead_sections)
        pool = frame_candidates(evidence, frame, weights, question_vector(query), plain=prof.plain, cue=prof.cue,
                                emergency=asked.emergency is not None)
        clock.lap("select")
        generator = generator or settings.generator
        if generator:
            answer = _compose_generated(asked.text, pool, planned, frame, evidence, settings, prof, scores, base,
                                        generator)
        else:
            answer = _compose(pool, planned, frame, evidence, settings, prof, scores, base, weights)
        clock.lap("compose")
        if not answer.statements():  # the passages matched, yet no sentence of them answers: never an empty answer
            answer = _insufficient(retrieval.hits, scores, base)
        elif not evidence.research_question and (unnamed := off_question(frame, answer, store)):
            base["notices"] = base["notices"] + [off_question_notice(unnamed)]
            answer = _insufficient(retrieval.hits, scores, base)
    if thread_id:
        record_turn(store, thread_id, asked.text, query, weights.top_terms(CARRY_FOCUS), answer.status)
    timings = clock.done()
    timings.update({f"retrieve.{k}": round(v, 2) for k, v in retrieve_ms.items()})
    answer.timings_ms = timings
    return answer


# The answer section each aspect leads with.
ASPECT_SECTION = {
    "dose": "dosage", "max_dose": "dosage", "how_to_take": "dosage", "stopping": "dosage",
    "side_effects": "side_effects", "interaction": "interactions", "contraindication": "contraindications",
    "warnings": "warnings", "overdose": "warnings", "pregnancy": "populations", "breastfeeding": "populations",
    "children": "populations", "older_adults": "populations", "indication": "uses", "information": "uses",
    "comparison": "uses", "mechanism": "background", "drug_class": "background", "storage": "background",
    "appearance": "background", "ingredients": "background", "definition": "definition", "cause": "causes", "symptoms": "symptoms",
    "diagnosis": "diagnosis", "treatment": "treatment", "prevention": "prevention", "screening": "prevention",
    "outlook": "outlook", "inheritance": "genetics", "risk": "causes", "frequency": "frequency",
}


def plan_for(frame: QuestionFrame, kind: QuestionKind) -> QuestionKind:
    """The section plan led by the frame's aspect (the wording-based plan follows it)."""
    lead = ASPECT_SECTION.get(frame.aspect, kind.primary)
    return QuestionKind(frame.aspect, tuple(dict.fromkeys((lead, *kind.plan))), frame.yes_no)


VERY_RARE_SHARE = 0.0002  # a word in at most this share of passages names what a question is about ("trospium")


def off_question(frame: QuestionFrame, answer: Answer, store: LibraryStore | None = None) -> str | None:
    """The word a question is about when its bottom line never names it, for a question naming nothing the
    library knows: "how to pronounce chlordiazepoxide" answered with a sentence about cramps in the big toe is
    no answer. None when the answer names it, or is not judged.

    The word is the question's rarest detail ("hydrocortisone", not "cream" or "face"; without ``store``, any
    detail counts). Judged for a question about a medicine, or with a very rare word: "how can I avoid getting
    sick from the heat when I work outside in the summer?" is answered by "drink plenty of fluids"."""
    if frame.concepts or not frame.details or not answer.bottom_line:
        return None
    total, counts = store.term_frequencies(list(frame.details)) if store is not None else (0, {})
    if frame.focus_kind != "drug" and not any(0 < counts.get(d, 0) <= VERY_RARE_SHARE * total for d in frame.details):
        return None
    asked = [min(frame.details, key=lambda d: counts.get(d, 0))] if counts else list(frame.details)
    if any(stems(d) & stems(s.text) for d in asked for s in answer.bottom_line):
        return None
    return asked[0]


def off_question_notice(word: str) -> str:
    return f"The sentences Medora found to lead with do not mention “{word}”, so it does not answer with them."


def _insufficient(hits: list[SearchHit], scores: dict, base: dict) -> Answer:
    """"Not enough evidence", with the three closest documents (uncited)."""
    closest, seen = [], set()
    for h in hits:
        if h.document.id not in seen and len(closest) < 3:
            seen.add(h.document.id)
            closest.append(reference(h.document, len(closest) + 1, h.passage.section_path))
    return Answer(status="insufficient_evidence", message=INSUFFICIENT, closest_sources=closest, scores=scores, **base)


def _compose(pool: list[Candidate], kind: QuestionKind, frame: QuestionFrame, evidence: Evidence,
             settings: Settings, prof: AudienceProfile, scores: dict, base: dict,
             weights: TermWeights | None = None) -> Answer:
    """Steps 5 and 6: bottom line (a stance for a yes/no question), sections, then judgements."""
    if not frame.yes_no:
        stance = None
    elif frame.effects:  # "does X cause Y?" is answered by X's label naming Y as something it causes
        stance = effect_stance(pool, frame, evidence)
    else:
        stance = take_stance(pool, frame, evidence.names_by_concept, weights, evidence.search_rank)
    bottom = bottom_line(pool, frame, stance.candidate if stance else None,
                         stance_no=stance is not None and stance.verdict == "no",
                         names_by_concept=evidence.names_by_concept, own_documents=evidence.own_documents)
    sections = _sections(pool, kind, settings.max_statements, prof.lead_sections, bottom)
    if prof.plain:
        best = pool[0].score if pool else 0.0
        bottom, sections = fit_reading_grade(bottom, sections, [c for c in pool if section_worthy(c, best)])
    base = {**base, "notices": base["notices"] + indirect_notice(frame, bottom)}
    cites = _Citations()
    bottom_line_ = [Statement(text=c.text, citations=[cites.cite(c)], kind="sentence") for c in bottom]
    answer_sections = [
        AnswerSection(key=key, heading=heading(key, prof),
                      statements=[Statement(text=c.text, citations=[cites.cite(c)],
                                            kind="step" if key in STEP_SECTIONS and _ordered(chosen) else "bullet")
                                  for c in chosen])
        for key, chosen in sections
    ]
    answer = Answer(status="answered", bottom_line=bottom_line_, sections=answer_sections,
                    references=cites.references, scores=scores, **base)
    if stance is not None:
        answer.verdict, answer.verdict_basis, answer.verdict_note = stance.verdict, stance.basis, stance.note
    return _finish(answer, kind, evidence.searched or evidence.hits, prof, evidence.names)


def indirect_notice(frame: QuestionFrame, bottom: list[Candidate]) -> list[str]:
    """When no sentence found answers what is asked (no dose for a dose question, nothing on stopping for a
    question about stopping), say so before the closest sentences lead: a yes/no question says it in its verdict."""
    if frame.yes_no or not bottom or frame.aspect not in ASPECT_CUES or answers_frame(bottom[0], frame):
        return []
    asked = ASPECT_LABELS.get(frame.aspect, frame.aspect)
    return [f"None of the sources found answers this directly ({asked}): what follows is the closest they come."]


def _compose_generated(question: str, pool: list[Candidate], kind: QuestionKind, frame: QuestionFrame,
                       evidence: Evidence, settings: Settings, prof: AudienceProfile, scores: dict, base: dict,
                       spec: str) -> Answer:
    """Prose from a model, kept statement by statement only where the cited passages support it.

    When the checker keeps nothing, the extractive answer is returned instead, with the
    generation report saying what was dropped and why.
    """
    hits = evidence.hits
    numbered = number_evidence(hits)
    client = client_from_spec(spec, api_key=os.environ.get("MEDORA_GENERATOR_API_KEY"))
    result = check_statements(generate_answer(question, numbered, client), numbered)
    report = result.report(client.model)
    if not result.kept:
        answer = _compose(pool, kind, frame, evidence, settings, prof, scores, base)
        answer.generation = report
        return answer
    cites = _Citations()
    statements = [(section_key_for(k.supports[0].hit, k.supports[0].text),
                   Statement(text=k.text, citations=[cites.cite(sp) for sp in k.supports]))
                  for k in result.kept[: settings.max_statements]]
    bottom_line = [statements[0][1].model_copy(update={"kind": "sentence"})]
    grouped: dict[str, list[Statement]] = {}
    for key, st in statements[1:]:
        grouped.setdefault(key, []).append(st)
    order = list(kind.plan) + [k for k in grouped if k not in kind.plan]
    sections = [AnswerSection(key=k, heading=heading(k, prof), statements=grouped[k]) for k in order if k in grouped]
    answer = Answer(status="answered", bottom_line=bottom_line, sections=sections, references=cites.references,
                    scores=scores, generation=report, **base)
    return _finish(answer, kind, hits, prof)


def _finish(answer: Answer, kind: QuestionKind, hits: list[SearchHit], prof: AudienceProfile,
            focus: tuple[str, ...] = ()) -> Answer:
    """Judgements, follow-ups, glossary and reading grade, read from the composed statements."""
    bottom_line, answer_sections = answer.bottom_line, answer.sections
    statements = answer.statements()
    if kind.yes_no and answer.verdict is None:
        answer.verdict = verdict(bottom_line)
    answer.evidence_strength = evidence_strength(answer.references)
    answer.differences = differences(statements, focus=focus)
    answer.follow_ups = suggest(hits, {s.key for s in answer_sections}, answer.question)
    synonyms = {h.document.id: list(h.document.metadata.get("synonyms") or []) for h in hits}
    answer.glossary = glossary_for(statements, prof.glossary, answer.references, synonyms)
    answer.scores["reading_grade"] = round(answer_grade([s.text for s in statements]), 2)
    return answer


# Sections whose statements render as numbered steps when their sentences say they come in order.
STEP_SECTIONS = {"diagnosis", "treatment", "dosage"}
_ORDER_CUES = re.compile(r"\b(first|second|third|then|next|after(wards)?|before|finally|step \d|initially)\b", re.I)


def _ordered(chosen: list[Candidate]) -> bool:
    """Steps: at least two statements from one passage, in passage order, that use sequence words."""
    same = len({c.passage_id for c in chosen}) == 1 and len(chosen) >= 2
    in_order = all(a.start < b.start for a, b in zip(chosen, chosen[1:]))
    return same and in_order and sum(bool(_ORDER_CUES.search(c.text)) for c in chosen) >= 2


def _round(timings: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in timings.items()}


# A section statement must itself, or through its document's title and headings, share at least
# this much of the question's term weight: otherwise it is about something else.
MIN_SECTION_SUPPORT = 0.15


def section_worthy(c: Candidate, best_score: float) -> bool:
    """Relevant enough for a section: near the best candidate's score and about the question."""
    return c.score >= 0.45 * best_score and c.support >= MIN_SECTION_SUPPORT


def with_lead_sections(kind: QuestionKind, lead: tuple[str, ...]) -> QuestionKind:
    """The question's plan with a reader's lead sections added after its primary section, so
    their sentences count as planned (a student's "what it is" for a treatment question)."""
    return replace(kind, plan=tuple(dict.fromkeys((kind.primary, *lead, *kind.plan)))) if lead else kind


def heading(key: str, prof: AudienceProfile) -> str:
    """A section's heading in this reader's words."""
    return prof.headings.get(key, HEADINGS[key])


def _sections(pool: list[Candidate], kind: QuestionKind, max_statements: int, lead: tuple[str, ...],
              bottom: list[Candidate]):
    """Sections (``lead`` sections first, then in plan order) around a chosen bottom line, without
    near-duplicates of each other or of the bottom line."""
    chosen: list[Candidate] = list(bottom)

    def fresh(c: Candidate) -> bool:
        return all(not near_duplicate(c.text, d.text) and (c.passage_id, c.start) != (d.passage_id, d.start)
                   for d in chosen)

    allowed = list(dict.fromkeys(lead + kind.plan))
    for c in pool[:5]:  # a strongly matching section outside the plan may still be shown
        if c.section_key not in allowed:
            allowed.append(c.section_key)
    if "seek_care" not in allowed:
        allowed.append("seek_care")
    best_score = pool[0].score if pool else 0.0
    sections = []
    budget = max_statements - len(bottom)
    for key in allowed:
        limit = 5 if key == kind.primary else 3
        picked: list[Candidate] = []
        for c in pool:
            if budget <= 0 or len(picked) >= limit:
                break
            if c.section_key != key or not section_worthy(c, best_score):
                continue
            if leans_back(c) and (c.passage_id, previous_start(c)) not in {(d.passage_id, d.start) for d in picked}:
                continue  # "This condition is called…" only right after the sentence it leans on
            if fresh(c):
                picked.append(c)
                chosen.append(c)
                budget -= 1
        if picked:
            sections.append((key, picked))
    return sections
