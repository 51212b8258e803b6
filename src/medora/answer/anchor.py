"""Evidence anchored to the frame: passages from documents about the focus, in the sections that
answer the aspect asked.

The aspect routes to sections (a dose question to a label's dosage and administration, a
pregnancy question to its pregnancy and boxed-warning text, "what causes X" to X's causes
sections) in tiers: tier 0 answers the aspect directly, tier 1 is where the answer is often found
too. When the focus documents have no such section, the whole focus documents are the evidence;
when the question names nothing the library knows, the search results are — and ``scope`` says
which. Search results from other documents are kept only when their passage names the focus, so
a statement about another drug or condition is never quoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from medora.answer.frame import QuestionFrame
from medora.library.store import LibraryStore
from medora.models import Document, Passage, SearchHit
from medora.retrieve.concepts import concept_index
from medora.retrieve.query import stems

MAX_FOCUS_DOCUMENTS = 12  # documents read per question beyond those search already found
GUIDELINE_RANK = 3  # guideline passages search ranks this high always join the evidence
# A study search ranks at the top answers a research question with its own conclusion.
STUDY_TYPES = ("trial", "systematic review", "meta-analysis", "cohort", "case-control", "article")
RESEARCH_TITLE_OVERLAP = 0.5  # word-stem Jaccard of question and a study's title
RESEARCH_RANK = 3  # a study whose title is the question answers it when search ranks it this high
MAX_TOPICS = 3  # guideline topics whose recommendations join a screening or prevention answer
AUTHORITY_ASPECTS = ("screening", "prevention")  # where a guideline's recommendation leads the answer

_H = re.IGNORECASE
# aspect -> tiers of (section types, heading pattern): a passage matches a tier by either.
ROUTES: dict[str, list[tuple[frozenset[str], re.Pattern[str] | None]]] = {}


def _route(aspect: str, *tiers: tuple[tuple[str, ...], str | None]) -> None:
    ROUTES[aspect] = [(frozenset(types), re.compile(h, _H) if h else None) for types, h in tiers]


_route("dose", (("dosage",), r"dosage and administration|dosing|directions|recommended dos"),
       ((), r"dosage forms|how supplied"))
_route("max_dose", (("dosage",), r"dosage and administration|dosing|directions|maximum"), ((), r"overdos"))
_route("how_to_take", (("dosage",), r"dosage and administration|administration|directions|how to take"),
       (("patient counseling",), r"patient (counseling|information)|medication guide"))
_route("side_effects", (("adverse reactions",), r"adverse reactions|side effects"),
       ((), r"boxed warning|warnings and precautions"))
_route("interaction", (("interactions", "contraindications"), r"drug interactions|contraindications|do not use"),
       ((), r"boxed warning|warnings and precautions|^warnings"))
_route("contraindication", (("contraindications",), r"contraindications|do not use"),
       ((), r"boxed warning|warnings and precautions|^warnings"))
_route("warnings", ((), r"boxed warning"), (("warnings",), r"warnings"))
# OTC "Drug Facts" labels keep pregnancy and breastfeeding advice under Warnings: tier 1.
_route("pregnancy", ((), r"pregnan|boxed warning|females and males of reproductive|teratogenic"),
       (("warnings",), r"contraindications|specific populations|breast ?feeding|^warnings"))
_route("breastfeeding", ((), r"lactation|nursing mothers|breast ?feeding"),
       (("warnings",), r"specific populations|boxed warning|^warnings"))
_route("children", ((), r"pediatric|children"), (("contraindications", "dosage"), r"contraindications|dosage"))
_route("older_adults", ((), r"geriatric|elderly|older"), (("dosage",), r"dosage"))
_route("stopping", ((), r"discontinu|withdraw|taper|dosage and administration"), (("warnings",), r"warnings"))
_route("overdose", ((), r"overdos"), ((), r"boxed warning"))
_route("storage", ((), r"storage|how supplied|handling"), ((), r"dosage forms|description"))
_route("appearance", ((), r"dosage forms|how supplied|description"), ((), r"storage"))
_route("ingredients", ((), r"description|ingredient"), ((), r"dosage forms|how supplied"))
_route("mechanism", ((), r"mechanism of action|pharmacodynamics"), ((), r"clinical pharmacology|description"))
_route("drug_class", ((), r"description|mechanism of action|pharmacologic class"),
       (("indications",), r"clinical pharmacology|\bindications"))
_route("indication", (("indications",), r"\bindications|\buses\b|purpose"), (("definition",), None))
_route("information", (("indications", "definition"), r"\bindications|\buses\b|purpose"),
       ((), r"description|mechanism of action|dosage and administration|boxed warning"))
_route("comparison", (("indications",), r"\bindications|mechanism of action"), (("dosage",), None))
_route("definition", (("definition",), None), (("symptoms", "causes"), None))
_route("cause", (("causes",), None), (("genetics", "definition"), None))
_route("symptoms", (("symptoms",), None), (("diagnosis", "definition"), None))
_route("diagnosis", (("diagnosis",), None), (("symptoms", "screening"), None))
_route("treatment", (("treatment",), None), (("outlook", "prevention"), None))
_route("prevention", (("prevention", "recommendation"), None),
       (("screening", "causes", "treatment", "indications"), None))
_route("screening", (("screening", "recommendation"), None), (("prevention", "diagnosis"), None))
_route("outlook", (("outlook",), None), (("treatment", "definition"), None))
_route("inheritance", (("inheritance", "genetics"), None), (("causes", "definition"), None))
_route("risk", (("causes",), None), (("definition", "prevention"), None))
_route("frequency", (("frequency",), None), (("definition",), None))


def recommendations_of(store: LibraryStore, topics: list[Document]) -> list[SearchHit]:
    """The graded recommendations (one passage each) of guideline topics search found: a topic's
    rationale passage ranks well, its one-sentence recommendation for each population often does not.
    Siblings come from the concept index, which links a topic and its recommendations to one concept."""
    topic_ids = list(dict.fromkeys(d.id for d in topics if d.doc_type == "guideline" and d.metadata.get("kind") == "topic"))
    topic_ids = set(topic_ids[:MAX_TOPICS])  # the topics search ranked best, not every guideline it touched
    if not topic_ids:
        return []
    index = concept_index(store)
    siblings: list[int] = []
    for doc_ids in index.documents.values():
        if topic_ids & set(doc_ids):
            siblings.extend(d for d in doc_ids if d not in topic_ids and d not in siblings)
    docs = store.documents(siblings) if siblings else {}
    out = []
    for doc_id in siblings:
        doc = docs.get(doc_id)
        if doc is None or doc.status != "active" or doc.doc_type != "guideline" or not doc.grade:
            continue
        for p in store.document_passages(doc_id):
            if p.section_type == "recommendation":
                out.append(SearchHit(passage=p, document=doc, score=0.0, rank=0))
    return out


def _authority_first(store: LibraryStore, frame: QuestionFrame, searched: list[SearchHit]) -> list[SearchHit]:
    """Search results, with guideline recommendations first for a screening or prevention question."""
    if frame.aspect not in AUTHORITY_ASPECTS:
        return list(searched)
    first = [h for h in searched if h.document.doc_type == "guideline"]
    seen = {h.passage.id for h in searched}
    first = [h for h in recommendations_of(store, [h.document for h in first]) if h.passage.id not in seen] + first
    ordered = first + [h for h in searched if h.document.doc_type != "guideline"]
    return [SearchHit(passage=h.passage, document=h.document, score=h.score, rank=i + 1, scores=h.scores)
            for i, h in enumerate(ordered)]


def is_research_question(question: str, top: SearchHit) -> bool:
    """The question is the research question of this study (its title, nearly word for word): that study
    answers it, not the pages about the concepts it names."""
    if top.document.doc_type not in STUDY_TYPES:
        return False
    q, t = stems(question), stems(top.document.title)
    return bool(q and t) and len(q & t) / len(q | t) >= RESEARCH_TITLE_OVERLAP


def research_study(question: str, ranked: list[tuple[int, SearchHit]]) -> SearchHit | None:
    """The study whose research question this is, among the (search rank, hit) pairs search ranked in its top
    ``RESEARCH_RANK`` (best first); None when there is none."""
    return next((h for rank, h in sorted(ranked, key=lambda r: r[0])
                 if rank <= RESEARCH_RANK and is_research_question(question, h)), None)


def route_tier(aspect: str, passage: Passage) -> int | None:
    """0 when the passage's section answers ``aspect`` directly, 1 when it often does, else None."""
    heading = " › ".join(passage.section_path)
    for tier, (types, pattern) in enumerate(ROUTES.get(aspect, [])):
        if passage.section_type in types or (pattern is not None and pattern.search(heading)):
            return tier
    return None


@dataclass
class Evidence:
    """Passages an answer may quote, best first, and where they came from."""

    hits: list[SearchHit]
    scope: str  # "focus sections", "focus documents", "search results about the focus", "search results"
    focus_documents: set[int] = field(default_factory=set)
    tiers: dict[int, int] = field(default_factory=dict)  # passage id -> route tier
    names: tuple[str, ...] = ()  # words that name the focus, lower-case
    names_by_concept: dict[int, tuple[str, ...]] = field(default_factory=dict)
    own_documents: set[int] = field(default_factory=set)  # the focus concepts' own documents (their labels, pages)
    searched: list[SearchHit] = field(default_factory=list)  # the search results it was gathered from
    research_question: bool = False  # the question is a study's own research question: its conclusion answers

    @property
    def search_rank(self) -> dict[int, int]:
        """Passage id -> its rank in the search results."""
        return {h.passage.id: h.rank for h in self.searched}


def concept_names(frame: QuestionFrame, documents: dict[int, Document]) -> dict[int, tuple[str, ...]]:
    """Per focus concept, the lower-case names a sentence may use for it: as written, the matched and
    preferred names, and the names its label documents list (brands, generics, substances)."""
    out: dict[int, tuple[str, ...]] = {}
    for c in frame.focus:
        names = {c.matched_text.lower(), c.preferred.lower(), (c.name or "").lower()}
        for doc_id in c.doc_ids:
            doc = documents.get(doc_id)
            if doc is None:
                continue
            for key in ("brand_names", "generic_names", "substance_names", "synonyms"):
                for value in doc.metadata.get(key) or []:
                    if isinstance(value, str) and 3 <= len(value) <= 60:
                        names.add(value.lower())
        out[c.concept_id] = tuple(sorted((n for n in names if len(n) >= 3), key=len, reverse=True))
    return out


def other_names(frame: QuestionFrame, by_concept: dict[int, tuple[str, ...]], doc_id: int) -> tuple[str, ...]:
    """In a question about two or more drugs: the names of the drugs a document is not the label of."""
    drugs = frame.drugs
    if len(drugs) < 2:
        return ()
    return tuple(n for d in drugs if doc_id not in d.doc_ids for n in by_concept.get(d.concept_id, ()))


def names_focus(text: str, names: tuple[str, ...]) -> bool:
    low = text.lower()
    return any(re.search(r"(?<!\w)" + re.escape(n) + r"(?!\w)", low) for n in names)


# Answer section keys a reader wants first (``AudienceProfile.lead_sections``) -> the aspect whose route finds them.
_SECTION_ASPECT = {"causes": "cause", "genetics": "inheritance", "uses": "indication", "dosage": "dose",
                   "interactions": "interaction", "contraindications": "contraindication", "populations": "pregnancy",
                   "side_effects": "side_effects"}
PASSAGES_PER_TURN = 4  # passages one document contributes before the next document's turn
LEAD_TIER = 2  # passages kept for a reader's lead sections: quotable, with no bonus for answering the aspect


def passage_tier(frame: QuestionFrame, p: Passage, others: tuple[str, ...], lead_aspects: list[str]) -> int | None:
    """The route tier of one of a focus document's passages for ``frame`` (None: not routed)."""
    if frame.effects and frame.names_effect(p.text):
        return 0  # "does X cause Y?": wherever X's label names Y (boxed warning, warnings, adverse reactions)
    tier = route_tier(frame.aspect, p)
    if others and tier is None and names_focus(p.text, others):
        tier = 1  # a two-drug question: wherever one label names the other drug
    if tier is None and frame.yes_no and frame.focus_kind == "drug" and route_tier("contraindication", p) is not None:
        tier = 1  # "is it safe / ok to give X?": the label's contraindications and warnings answer it
    if tier != 0 and frame.names_details(p.text):
        tier = 0 if tier == 1 else 1  # "fluorouracil past its expiration date": the passage that names it too
    if tier is None and any(route_tier(a, p) == 0 for a in lead_aspects):
        tier = LEAD_TIER
    return tier


def gather(store: LibraryStore, frame: QuestionFrame, searched: list[SearchHit],
           lead_sections: tuple[str, ...] = ()) -> Evidence:
    """The evidence for ``frame``: aspect sections of the focus documents first, then search results
    about the focus; general search results only when the question names no known concept."""
    if research_study(frame.question, [(h.rank, h) for h in searched]) is not None:
        return Evidence(hits=list(searched), scope="search results", searched=list(searched), research_question=True)
    focus_ids: list[int] = []
    for c in frame.focus:
        focus_ids.extend(d for d in c.doc_ids if d not in focus_ids)
    if not focus_ids:
        return Evidence(hits=_authority_first(store, frame, searched), scope="search results",
                        searched=list(searched))
    # Documents search already ranked come first, then the rest in index order.
    found = [h.document.id for h in searched if h.document.id in set(focus_ids)]
    ordered = list(dict.fromkeys(found + focus_ids))
    chosen = ordered[: max(MAX_FOCUS_DOCUMENTS, len(dict.fromkeys(found)))]
    documents = store.documents(chosen)
    by_concept = concept_names(frame, documents)
    lead_aspects = [_SECTION_ASPECT.get(k, k) for k in lead_sections if _SECTION_ASPECT.get(k, k) in ROUTES]
    names = tuple(sorted({n for ns in by_concept.values() for n in ns}, key=len, reverse=True))
    doc_rank = {doc_id: i for i, doc_id in enumerate(chosen)}
    authority = frame.aspect in AUTHORITY_ASPECTS
    searched_rank = {h.passage.id: h.rank for h in searched}

    routed: list[tuple[int, int, int, Passage]] = []
    whole: list[tuple[int, int, Passage]] = []
    for doc_id in chosen:
        if doc_id not in documents or documents[doc_id].status != "active":
            continue
        others = other_names(frame, by_concept, doc_id)
        for p in store.document_passages(doc_id):
            tier = passage_tier(frame, p, others, lead_aspects)
            if tier is not None:
                # A graded recommendation leads a screening or prevention answer: read before any topic's prose.
                rank = 0 if authority and p.section_type == "recommendation" and documents[doc_id].grade \
                    else searched_rank.get(p.id, 999)
                routed.append((tier, rank, doc_rank[doc_id] * 1000 + p.ordinal, p))
            whole.append((searched_rank.get(p.id, 999), doc_rank[doc_id] * 1000 + p.ordinal, p))
    # Another drug's label speaks about the focus drug only where the two meet (interactions); for any other
    # aspect its sentence naming the focus ("drugs that raise carbamazepine levels include …") is about itself.
    meet = frame.aspect in ("interaction", "contraindication") or len(frame.drugs) > 1
    about_focus = [h for h in searched if h.document.id not in documents
                   and (meet or frame.focus_kind != "drug" or h.document.doc_type != "drug label")
                   and names_focus(h.document.title + " " + h.passage.text, names)]
    # Authority decides the lead for prevention and screening: a guideline search ranks near the top
    # joins the evidence even when its wording ("CVD") does not repeat the focus name ("heart attack").
    reach = len(searched) if frame.aspect in AUTHORITY_ASPECTS else GUIDELINE_RANK
    # A study search ranks near the top answers with its own conclusion only when it is about the focus:
    # a gluten-free-diet trial says nothing about whether losartan contains gluten.
    guidelines = [h for h in searched if ((h.rank <= reach and h.document.doc_type == "guideline")
                                          or (h.rank <= GUIDELINE_RANK and h.document.doc_type in STUDY_TYPES
                                              and names_focus(h.document.title + " " + h.passage.text, names)))
                  and h.document.id not in documents and h not in about_focus]
    if frame.aspect in AUTHORITY_ASPECTS:
        known = {h.passage.id for h in searched} | {p.id for *_, p in whole}
        topics = list(documents.values()) + [h.document for h in searched if h.document.doc_type == "guideline"]
        guidelines = [h for h in recommendations_of(store, topics) if h.passage.id not in known] + guidelines
    tiers: dict[int, int] = {}
    if routed:
        routed.sort(key=lambda r: r[:3])
        # Each document's first passages before any document's later ones: one long page must not
        # crowd the other sources about the focus out of the passages read.
        seen_per_doc: dict[int, int] = {}
        turns = []
        for r in routed:
            n = seen_per_doc.get(r[3].document_id, 0)
            seen_per_doc[r[3].document_id] = n + 1
            turns.append((r[0], n // PASSAGES_PER_TURN, r))
        routed = [r for *_, r in sorted(turns, key=lambda t: t[:2])]
        passages = [r[3] for r in routed]
        tiers = {r[3].id: r[0] for r in routed}
        scope = "focus sections"
    elif whole:
        whole.sort(key=lambda r: r[:2])
        passages = [r[2] for r in whole]
        scope = "focus documents"
    else:
        passages = []
        scope = "search results about the focus"
    extra = guidelines + about_focus
    for h in extra:
        tier = route_tier(frame.aspect, h.passage)
        if tier is not None:
            tiers[h.passage.id] = tier
    ordered_hits = [(p, documents[p.document_id], 1.0, {}) for p in passages]
    searched_hits = [(h.passage, h.document, h.score, h.scores) for h in extra]
    if frame.aspect in AUTHORITY_ASPECTS:
        ordered_hits = [x for x in searched_hits if x[1].doc_type == "guideline"] + ordered_hits + \
            [x for x in searched_hits if x[1].doc_type != "guideline"]
    else:
        ordered_hits += searched_hits
    hits = [SearchHit(passage=p, document=d, score=score if score != 1.0 else 1.0 / (1 + i), rank=i + 1, scores=sc)
            for i, (p, d, score, sc) in enumerate(ordered_hits)]
    trusted = set(documents) | {h.document.id for h in guidelines}
    if not hits:
        return Evidence(hits=list(searched), scope="search results", searched=list(searched))
    return Evidence(hits=hits, scope=scope, focus_documents=trusted, tiers=tiers, names=names,
                    names_by_concept=by_concept, own_documents=set(documents),
                    searched=list(searched))
