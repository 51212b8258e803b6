"""Sentence selection for a frame: which quoted sentences answer the aspect asked about the focus.

Every usable sentence of the anchored evidence is scored by features that each say one thing —
how much of the question it shares (words, and meaning through the embedding model), whether
its section answers the aspect (route tier), whether it carries what the aspect needs (a dose
needs an amount, a side-effect question a list of reactions), whether it names the focus, the
passage's rank — combined by the weights in ``SelectionWeights``, fitted on data by
``bench/fit_selection.py`` (MedQuAD questions' own answer sentences against the other candidates,
medicationqa-dev gold sentences). The bottom line is then the best sentence that answers the frame.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from medora.answer.anchor import LEAD_TIER, Evidence, names_focus, other_names
from medora.answer.evidence import (
    Candidate,
    directions_spans,
    list_spans,
    near_duplicate,
    readability_penalty,
    section_key_for,
    too_hard,
    trim_sentence,
    usable_statement,
)
from medora.answer.aspect import ASPECT_LABELS
from medora.answer.frame import QuestionFrame
from medora.answer.semantic import similarities
from medora.models import Document, Passage
from medora.answer.stance import Stance, about_population, fits_population, question_age, specific_terms
from medora.retrieve.query import stems
from medora.retrieve.terms import TermWeights

MAX_PASSAGES = 24  # anchored passages read per question
SHORTLIST = 24  # candidates scored by meaning (sentence vectors cost ~10 ms each on 2 cores)

# What a sentence answering each aspect carries.
_AMOUNT = (r"\b\d+(?:[.,]\d+)?\s?(?:-|to|–)?\s?\d*(?:\.\d+)?\s?(?:mg|mcg|µg|μg|g|grams?|units?|mL|IU|milligrams?|"
           r"micrograms?|tablets?|capsules?|caplets?|gelcaps?|softgels?|teaspoonfuls?|tablespoonfuls?|drops?|puffs?|"
           r"sprays?)\b(?!\s?/\s?min)")  # not a clearance ("less than 50 mL/min")
ASPECT_CUES: dict[str, re.Pattern[str]] = {k: re.compile(v, re.I) for k, v in {
    "dose": _AMOUNT,
    "max_dose": r"\b(maximum|max\.?|not (to )?exceed|should not exceed|up to|no more than|greater than|highest|"
                r"above \d+)\b",
    "how_to_take": r"\b(with or without food|with food|without food|empty stomach|meal|once (a )?daily|twice daily|"
                   r"at bedtime|in the morning|swallow|every \d+ hours|same time|infused over|\d+-minute \w* ?infusion|"
                   r"infusion over|administer(ed)? (as an?|by|over))\b",
    "side_effects": r"\b(most common|adverse reactions?|side effects?|incidence)\b",
    "interaction": r"\b(contraindicated|do not (use|take|start)|avoid|concomitant|coadministration|co-administration|"
                   r"together with|interact\w*|not recommended)\b",
    "contraindication": r"\b(contraindicated|do not (use|take)|should not (be )?(used|taken|given)|hypersensitivity)\b",
    "warnings": r"\b(warning|increased risk|risk of|may cause|can cause|death|serious)\b",
    "pregnancy": r"\b(pregnan\w*|fetal|fetus|birth defects?|neural tube|malformations?|teratogen\w*)\b",
    "breastfeeding": r"\b(breast-?feed\w*|lactation|breast ?milk|nursing|infants?)\b",
    "children": r"\b(pediatric|paediatric|children|infants?|neonates?|newborns?|months of age|years of age)\b",
    "older_adults": r"\b(geriatric|elderly|older|65 years)\b",
    "stopping": r"\b(discontinu\w*|withdraw\w*|taper\w*|gradual\w*|abrupt\w*|reduc\w* (the )?(dose|dosage)|"
                r"stop taking|\d+ days before)\b",
    "overdose": r"\b(overdos\w*|toxicity|poison|too much)\b",
    "storage": r"\b(store|storage|°\s?[CF]|temperature|refrigerat\w*|discard|dispos\w*|keep (out|away)|expir\w*)\b",
    "appearance": r"\b(tablets?|capsules?|white|yellow|blue|pink|round|oval|imprint\w*|debossed|engraved|scored)\b",
    "ingredients": r"\b(contains?|ingredients?|each (tablet|capsule|ml))\b",
    "mechanism": r"\b(inhibit\w*|works by|mechanism|blocks?|binds?|receptors?|agonist|antagonist)\b",
    "drug_class": r"(?:\b(?:is|are|as) an?|\bare (?:some|among)|, an?)\b[^.;]{0,80}?\b(class|agents?|inhibitors?|antagonists?|agonists?|blockers?|derivatives?|"
                  r"antibiotics?|analogu?es?|benzodiazepines?|opioids?|(cortico)?steroids?|statins?|anticonvulsants?|"
                  r"antidepressants?|antihistamines?|diuretics?|antipsychotics?|sulfonylureas?|NSAIDs?)\b",
    "indication": r"\b(indicated (for|as|in)|used (to|for|in)|treatment of|to treat|management of)\b",
    "information": r"\b(is an?|are an?|is the|indicated (for|as|in)|used (to|for)|belongs to|class of)\b",
    "comparison": r"\b(compared|than|versus|both)\b",
    "definition": r"^\s*[^.]{0,80}\b(is|are|refers to|means)\b( an?| the)?\b",
    "cause": r"\b(caused by|causes?|due to|results? from|virus|bacteri\w*|mutations?|infection)\b",
    "symptoms": r"\b(symptoms?|signs?|include|rash|pain|fever)\b",
    "diagnosis": r"\b(tests?|diagnos\w*|exam\w*|biops\w*|imaging|scan|study|studies|blood)\b",
    "treatment": r"\b(treat\w*|therap\w*|medicines?|medications?|surgery|remov\w*|cur(e|es|ed|ing)|antibiotics?|"
                 r"antivirals?|antifungals?|chemotherapy|radiation|transplant\w*)\b",
    "prevention": r"\b(recommends?|prevent\w*|avoid|vaccin\w*|drink|wear|limit)\b",
    "screening": r"\b(recommends?|screen\w*|every \d|biennial|annual\w*|aged? \d+)\b",
    "outlook": r"\b(prognosis|outlook|recover\w*|survival|within|months|years|die|fatal|improve\w*)\b",
    "inheritance": r"\b(inherit\w*|autosomal|x-linked|mitochondrial|passed (down|on)|pattern|chance)\b",
    "risk": r"\b(risk|more likely|chance)\b",
    "frequency": r"\b(\d+ (in|out of)|percent|%|common|rare|affects?)\b",
}.items()}
# A second aspect asked alongside the first is answered by a sentence that carries it specifically.
ALSO_CUES: dict[str, re.Pattern[str]] = {
    "how_to_take": re.compile(r"\b(food|meals?|empty stomach|bedtime|in the morning|in the evening)\b", re.I),
    "side_effects": re.compile(r"\b(most common adverse|side effects?|adverse reactions?)\b", re.I),
    "interaction": re.compile(r"\b(concomitant|coadministration|co-administration|interact\w*)\b", re.I),
}
# Why a source says no: the harm it names.
REASON = re.compile(r"\b(can cause|may cause|caus(es|ed|ing) (serious|severe|fatal)|increase[sd]? the risk|risk of|"
                    r"malformations?|birth defects|neural tube|fetal (harm|toxicity|death)|death|profound hypotension|"
                    r"respiratory depression|life-threatening)\b", re.I)
# The harm, most specific first, for the aspects whose "no" is about someone else: the fetus, the infant.
CAUSES = re.compile(r"\b(can|may|will|could) (cause|lead to|result in|increase)|\bcaus(es|ed|ing)\b|\bincreases? the risk\b",
                    re.I)
# A "no" about how a medicine is kept or looks ("do not use after the expiration date") has no harm to explain.
NO_HARM_ASPECTS = ("storage", "appearance", "ingredients")
REASON_FOR = {
    "pregnancy": (re.compile(r"\b(birth defects?|malformations?|neural tube|teratogen\w*|miscarriage|unborn (child|baby))\b",
                             re.I),
                  re.compile(r"\b(fetal|fetus)\b", re.I)),
    "breastfeeding": (re.compile(r"\b(breastfed infants?|nursing infants?|in the infant|breast milk)\b", re.I),
                      re.compile(r"\binfants?\b", re.I)),
    "children": (re.compile(r"\b(infants?|neonates?|newborns?|kernicterus|children|pediatric)\b", re.I),),
}
# A limit that holds only in a special case (another drug, an organ impairment, an age group).
CONDITIONAL = re.compile(r"\b(when used (concomitantly|with)|concomitant\w*|in patients (with|who)|inhibitors?|"
                         r"hepatic|renal|elderly|older than|poor metaboli\w*|pediatric|children)\b", re.I)
# Dose questions need an amount in the answer, maximum-dose questions a limit with an amount.
NEEDS_AMOUNT = {"dose", "max_dose"}
# Instructions for an emergency never answer a question that is not one.
EMERGENCY_INSTRUCTION = re.compile(r"\b(call(ing)? (911|9-1-1)|emergency (room|department|services)|"
                                   r"(chew|crush)\w* (or (chew|crush)\w* )?(an |one )?aspirin)\b", re.I)
# Statement hygiene beyond ``usable_statement``: page furniture and label cross-references.
_FURNITURE = re.compile(
    r"much of this information|orphanet|human phenotype ontology|frequency (of|in) (this|the) table|"
    r"approximate number of patients|a frequency of \d+/\d+ means|the sign or symptom may be rare or common|"
    r"\bthis table\b|\bsee table\b|\[see\b|\(\s*\d+(\.\d+)*(\s*,\s*\d+(\.\d+)*)*\s*\)|\bsee (section|subsection)\b|"
    r"^(table|figure) \d|\btable below\b|\blisted as a fraction\b|\bfirst number of the fraction\b|"
    r"\brough estimate of the percentage\b|\bmedlineplus medical dictionary\b|\bthese frequencies\b|"
    r"\bno information on frequency\b|\bplease visit\b|\bfor more (specific )?information\b|\bvisit (the|our) [^.]*(website|page)", re.I)


_FORM_WORDS = stems("cream tablets capsules injection solution suspension oral topical extended release delayed "
                    "hydrochloride sodium potassium calcium acetate sulfate ointment gel patch spray kit")


MAX_INGREDIENTS = 4  # a label for more substances than this (a homeopathic mix) speaks for none of them alone
_INGREDIENT_SPLIT = re.compile(r"\s+-\s+|,\s*|\s+and\s+")


def _drug_names(doc: Document) -> set[str]:
    """Word stems of the drug a label is for (brand, generic, substance; not "cream" or "tablets"); for a mix of
    many substances only its brand: a 22-ingredient product listing melatonin is not a melatonin label."""
    generic = [v for key in ("generic_names", "substance_names") for v in doc.metadata.get(key) or []
               if isinstance(v, str)]
    if len({part for v in generic for part in _INGREDIENT_SPLIT.split(v.lower()) if part}) > MAX_INGREDIENTS:
        generic = []
    names = [v for v in doc.metadata.get("brand_names") or [] if isinstance(v, str)] + generic \
        or [doc.title.split("—")[0]]
    return stems(" ".join(names)) - _FORM_WORDS


def _whole_recommendation(p: Passage, a: int, b: int) -> bool:
    """A guideline's one-sentence recommendation stored without its full stop ("The USPSTF recommends screening
    for hepatitis B virus (HBV) infection in pregnant women at their first prenatal visit") is still one."""
    return (p.section_type == "recommendation" and p.text[a:b].strip() == p.text.strip()
            and clean_statement(p.text[a:b] + "."))


def clean_statement(sentence: str) -> bool:
    """A sentence is statement material: reads as a sentence, is not page furniture or a cross-reference."""
    return usable_statement(sentence) and not _FURNITURE.search(sentence)


def is_table(section_path: list[str]) -> bool:
    return any(re.match(r"table\b", part.strip(), re.I) for part in section_path)


FEATURES = ("overlap", "support", "rank", "tier0", "tier1", "cue", "focus_document", "names_focus", "meaning")


# The hand-set weights the fit started from (and is compared with in bench/RESULTS.md).
HAND_WEIGHTS = {"overlap": 0.45, "support": 0.10, "rank": 0.15, "tier0": 0.40, "tier1": 0.15, "cue": 0.25,
                "focus_document": 0.10, "names_focus": 0.20, "meaning": 0.90}
FITTED_WEIGHTS_FILE = Path(__file__).parent / "data" / "selection_weights.json"


def _fitted_weights() -> dict[str, float]:
    """The weights ``bench/fit_selection.py`` fitted (the hand weights where the file lacks one)."""
    try:
        fitted = json.loads(FITTED_WEIGHTS_FILE.read_text(encoding="utf-8"))["fitted"]
    except (OSError, ValueError, KeyError):
        return dict(HAND_WEIGHTS)
    return {name: float(fitted.get(name, HAND_WEIGHTS[name])) for name in FEATURES}


_W = _fitted_weights()


@dataclass(frozen=True)
class SelectionWeights:
    """Weights of the sentence features, fitted on MedQuAD own-answer sentences and MedicationQA gold
    sentences by ``bench/fit_selection.py`` (stored in ``data/selection_weights.json``).

    ``plain_source`` and the reading penalty are the audience's preference, not relevance, and stay
    as the plain-language work set them (bench/RESULTS.md, reading grade)."""

    overlap: float = _W["overlap"]
    support: float = _W["support"]
    rank: float = _W["rank"]
    tier0: float = _W["tier0"]
    tier1: float = _W["tier1"]
    cue: float = _W["cue"]
    focus_document: float = _W["focus_document"]
    names_focus: float = _W["names_focus"]
    meaning: float = _W["meaning"]
    plain_source: float = 0.10

    def score(self, features: dict[str, float]) -> float:
        return sum(getattr(self, name) * features.get(name, 0.0) for name in FEATURES)


WEIGHTS = SelectionWeights()


def frame_candidates(evidence: Evidence, frame: QuestionFrame, weights: TermWeights, question_vec,
                     plain: bool = False, cue: re.Pattern[str] | None = None, emergency: bool = False,
                     w: SelectionWeights = WEIGHTS) -> list[Candidate]:
    """Scored candidate sentences of the evidence, best first (each keeps its ``features``)."""
    aspect_cue = ASPECT_CUES.get(frame.aspect)
    amount = ASPECT_CUES["dose"]
    asked = stems(frame.question)
    scored: list[Candidate] = []
    hard: list[Candidate] = []
    for hit in evidence.hits[:MAX_PASSAGES]:
        p = hit.passage
        if is_table(p.section_path):
            continue
        context = stems(hit.document.title + " " + " ".join(p.section_path))
        tier = evidence.tiers.get(p.id)
        in_focus_doc = hit.document.id in evidence.focus_documents
        # Without a known focus, a drug label the question does not name never speaks for what it asks: "how to
        # stop taking xanax" (a medicine the library does not know) must not quote Zykadia's label, "what is
        # chlorhexidine?" not the chloroprocaine label dense search finds alike.
        unnamed_label = (not evidence.names and hit.document.doc_type == "drug label"
                         and not _drug_names(hit.document) & asked)
        rank_prior = 1.0 / (1.0 + 0.25 * (hit.rank - 1))
        # An OTC label's run-together directions are read instruction by instruction, not by the sentence
        # splitter (which glues "… unless directed by your doctor swallow whole.").
        instructions = directions_spans(p.text, p.section_type == "dosage" and "OTC" in str(
            hit.document.metadata.get("product_type") or "")) if hit.document.doc_type == "drug label" else []
        lists = instructions or list_spans(p.text, p.sentences)
        for a, b in instructions or list(p.sentences) + lists:
            a, b = trim_sentence(p.text, a, b)
            sentence = p.text[a:b]
            if not (clean_statement(sentence) or ((a, b) in lists and not _FURNITURE.search(sentence))
                    or _whole_recommendation(p, a, b)):
                continue
            if not emergency and EMERGENCY_INSTRUCTION.search(sentence):
                continue
            names = bool(evidence.names) and names_focus(sentence, evidence.names)
            if evidence.names and not (in_focus_doc or names):
                continue  # about something other than the focus
            if unnamed_label:
                continue
            own = stems(sentence)
            has_cue = bool(aspect_cue and aspect_cue.search(sentence))
            if frame.effects:  # "does X cause Y?": what the aspect needs is Y named
                has_cue = frame.names_effect(sentence)
            if frame.aspect in NEEDS_AMOUNT and not amount.search(sentence):
                has_cue = False
            features = {"overlap": weights.coverage(own), "support": weights.coverage(own | context),
                        "rank": rank_prior, "tier0": float(tier == 0), "tier1": float(tier in (1, LEAD_TIER)),
                        "cue": float(has_cue), "focus_document": float(in_focus_doc), "names_focus": float(names)}
            score = w.score(features)
            if plain:
                score += w.plain_source * (hit.document.doc_type == "patient information")
                score -= readability_penalty(sentence)
            if cue is not None and cue.search(sentence):
                score += 0.15
            c = Candidate(hit, a, b, sentence, section_key_for(hit, sentence), score, features["overlap"],
                          max(features["support"], 0.5 * names), tier=tier, cue=has_cue, features=features)
            (hard if plain and too_hard(sentence) else scored).append(c)
    if plain and not frame.yes_no and not any(c.tier == 0 and c.cue for c in scored):  # the only direct answers
        # read hard ("how to come off citalopram": "Gradually reduce the dosage…"): quote them; a yes/no question's
        # answer is a stance, found among all sentences
        scored += [c for c in hard if c.tier == 0 and (c.cue or not any(h.cue for h in hard if h.tier == 0))]
    pool = scored or hard
    if not evidence.names:  # no known focus: a rare question word that titles a document stands in ("Triaminic")
        rare = specific_terms(weights, stems(ASPECT_LABELS.get(frame.aspect, "")), share=0.8)  # not "side effects"
        titled = {t for t in rare if any(t in stems(h.document.title) for h in evidence.hits[:MAX_PASSAGES])}
        named = [c for c in pool if titled & (stems(c.text) | stems(c.hit.document.title))]
        pool = named or pool
    pool.sort(key=lambda c: -c.score)
    if question_vec is not None and pool:
        # Guideline recommendations are always scored by meaning: which one is about the question decides a verdict.
        head = pool[:SHORTLIST] + [c for c in pool[SHORTLIST:] if _is_recommendation(c)]
        for c, sim in zip(head, similarities(question_vec, [c.text for c in head])):
            c.score += w.meaning * sim
            c.meaning = sim
            c.features["meaning"] = sim
        rest = [c for c in pool[SHORTLIST:] if c.meaning is None]
        pool = sorted(head, key=lambda c: -c.score) + rest
    return pool


# A sentence that leans on the one before it ("It causes…", "They can form…") cannot open an answer.
_LEANS_BACK = re.compile(r"^(they|this|these|that|those|he|she|its|their|such|both)\b|"
                         r"^it\b(?! (is|was|has been|may be|can be|should be|must be)\b)", re.I)  # not "It is important…"


def leans_back(c: Candidate) -> bool:
    """The sentence leans on the one before it ("This condition is called…"): it reads only after that one."""
    return _LEANS_BACK.match(c.text) is not None


def previous_start(c: Candidate) -> int | None:
    """Where the sentence before ``c`` in its passage starts (None for the passage's first)."""
    before = [a for a, b in c.hit.passage.sentences if b <= c.start]
    return max(before) if before else None


# A table row read as a sentence: capitalised cell heads after lower-case words, with no punctuation between
# ("Pulmonary toxicity Acute onset or worsening pulmonary symptoms Delay infusion 1 to 2 weeks; …").
_CELL_HEAD = re.compile(r"\b(?!(?:with|and|for|the|from|into|than|per)\b)[a-z]{3,}\s+([A-Z][a-z]{2,})\b")  # not "with Left
# Ventricular Hypertrophy": a title-case name goes on from a preposition, a new cell does not


def reads_like_table_row(text: str) -> bool:
    """Two or more everyday words capitalised mid-sentence as cell heads (names and brands do not count). About
    2% of label sentences; most are table rows and captions, so they may be quoted but never lead."""
    from medora.retrieve.concepts import common_words

    common = common_words()
    return sum(m.group(1).lower() in common for m in _CELL_HEAD.finditer(text)) >= 2


_HOW_OFTEN = re.compile(r"\bhow (often|frequently)\b", re.I)
_SCHEDULE = re.compile(r"\b(every (\d+|one|two|three|five|ten|few|other|day|week|month|year)\w*|"
                       r"once (a|an|every|per|daily)|twice (a|daily|per)|\d+ times (a|per)|yearly|annually|each year)\b",
                       re.I)
# "What is a normal triglyceride level?", "what should my HDL number be?": the answer is a value.
_VALUE_ASKED = re.compile(r"\b(normal|healthy|good|ideal|target|safe|high|low)\b.{0,30}\b(levels?|ranges?|readings?|"
                          r"numbers?|values?|counts?)\b|\bwhat should (my|a|an|the|your|his|her)\b.{0,40}\b(level|number|"
                          r"reading|count|value)s? be\b", re.I)
_VALUE = re.compile(r"\b(normal|healthy|desirable|optimal|goal|should be)\b[^.;]{0,90}?\b(less|lower|more|higher|greater|"
                    r"below|above|under|over|at least|between)\b[^.;]{0,12}\d|\b\d+(\.\d+)?(/\d+)? ?(mg/dl|mmol/l|mm ?hg)?"
                    r" or (higher|more|above|lower|less|below)\b", re.I)
_NORMAL = re.compile(r"\b(normal|healthy|desirable|optimal)\b", re.I)  # the normal value before a cut-off for disease
_HOW_MUCH = re.compile(r"\bhow (much|many)\b", re.I)


def answers_form(c: Candidate, frame: QuestionFrame) -> bool:
    """Whatever the aspect guessed: a schedule about the focus for "how often?" (naming the question's details:
    the pneumococcal vaccine's, no other's), a value for "what is a normal …?", an amount for "how much folic
    acid?"."""
    q = frame.question
    return bool((_HOW_OFTEN.search(q) and _SCHEDULE.search(c.text) and (c.features.get("names_focus") or c.tier == 0)
                 and (not frame.details or frame.names_details(c.text)))
                or (_VALUE_ASKED.search(q) and _VALUE.search(c.text))
                or (_HOW_MUCH.search(q) and frame.aspect not in NEEDS_AMOUNT
                    and ASPECT_CUES["dose"].search(c.text) and c.features.get("names_focus")))


def form_answers(pool: list[Candidate], frame: QuestionFrame) -> list[Candidate]:
    """The candidates that answer the question's form (``answers_form``) and can lead, a normal value first."""
    found = [c for c in pool if answers_form(c, frame) and not _LEANS_BACK.match(c.text)
             and not reads_like_table_row(c.text)]
    return sorted(found, key=lambda c: not _NORMAL.search(c.text)) if _VALUE_ASKED.search(frame.question) else found


def answers_frame(c: Candidate, frame: QuestionFrame) -> bool:
    """Whether a candidate can lead the bottom line: a sentence that stands alone, in a section that answers
    the aspect, carrying what the aspect needs (an amount for a dose)."""
    if _LEANS_BACK.match(c.text) or reads_like_table_row(c.text):
        return False
    if answers_form(c, frame):
        return True
    if frame.aspect in NEEDS_AMOUNT:
        return c.cue and ASPECT_CUES["dose"].search(c.text) is not None
    if frame.aspect == "drug_class":  # "X is a benzodiazepine", not any sentence of the description
        return c.cue and bool(c.features.get("names_focus"))
    return (c.tier is not None and c.tier < LEAD_TIER) or c.cue


# A sentence that says the drug causes the effect asked about (not only that it was seen during treatment).
_CAUSAL = re.compile(r"\b(can|may|might|could|will|does) (cause|lead to|result in|produce|increase the risk of)\b|"
                     r"\bcaus(es|ed|ing)\b|\bassociated with\b|\w-(associated|induced|related)\b|\bcases of\b|"
                     r"\b(increased )?risk of\b|\binduced\b", re.I)
_NEGATED = re.compile(r"\b(not|no|never|without|unlikely)\b", re.I)


_THIS_DRUG = re.compile(r"\b(this|the) (product|drug|medicine|medication)\b", re.I)


def effect_stance(pool: list[Candidate], frame: QuestionFrame, evidence: Evidence) -> Stance:
    """The verdict on "does X cause Y?": yes when X's own label says that X (named, or "this product") causes
    Y or carries a risk of it; else the sources do not say directly (a label that lists Y among events seen in
    trials is quoted, not read as a yes; "symptoms associated with PMDD include weight gain" is not about X)."""
    for c in pool:
        if (c.hit.document.id in evidence.own_documents and frame.names_effect(c.text)
                and _CAUSAL.search(c.text) and not _NEGATED.search(c.text) and not _LEANS_BACK.match(c.text)
                and (names_focus(c.text, evidence.names) or _THIS_DRUG.search(c.text))):
            return Stance("yes", c, f"drug label: {_CAUSAL.search(c.text).group(0).lower()}")
    return Stance("unclear", None, "no source sentence takes a stance on the question")


def _is_recommendation(c: Candidate) -> bool:
    return (c.hit.document.doc_type == "guideline" and c.hit.passage.section_type == "recommendation"
            and re.search(r"\brecommends?\b", c.text, re.I) is not None)


def _same_topic(a: Candidate, b: Candidate) -> bool:
    ta, tb = a.hit.document.metadata.get("topic_id"), b.hit.document.metadata.get("topic_id")
    return ta is not None and ta == tb


def bottom_line(pool: list[Candidate], frame: QuestionFrame, lead: Candidate | None,
                max_words: int = 60, stance_no: bool = False,
                names_by_concept: dict[int, tuple[str, ...]] | None = None,
                own_documents: set[int] | None = None) -> list[Candidate]:
    """One or two sentences: ``lead`` (a stance) or the best candidate that answers the frame; then, for a
    question that asks two things, the best answer to the second, else the next best answer when it adds
    something and the two stay short.

    Authority decides the lead for screening and prevention: a guideline's recommendation comes first.
    """
    names_by_concept = names_by_concept or {}
    ranked = [c for c in pool if answers_frame(c, frame)]
    if not ranked and frame.aspect == "drug_class":  # no sentence names its class: say what it is used for
        ranked = [c for c in pool if c.features.get("names_focus") and ASPECT_CUES["indication"].search(c.text)]
    ranked = ranked or [c for c in pool if not _LEANS_BACK.match(c.text)] or pool
    if own_documents:  # the focus's own label or page first: another label's table row about it is a special case
        ranked = sorted(ranked, key=lambda c: c.hit.document.id not in own_documents)
    form = form_answers(pool, frame)  # "how often?" → a schedule, "a normal reading?" → the value, "how much?"
    ranked = form + [c for c in ranked if c not in form]
    if frame.details:  # "… past the expiration date": a sentence that names what else the question names
        named = [c for c in ranked if frame.names_details(c.text)]
        if not named and frame.focus_kind != "drug":  # "am I contagious?": the word asked over a guessed aspect
            named = [c for c in pool if frame.names_details(c.text, all_but=1) and not _LEANS_BACK.match(c.text)
                     and not reads_like_table_row(c.text)]
        ranked = named + [c for c in ranked if c not in named]
    if frame.aspect in ("information", "definition", "indication", "drug_class"):  # "what is X?": a sentence naming X
        ranked = sorted(ranked, key=lambda c: not c.features.get("names_focus"))
    if len(frame.drugs) > 1:  # evidence about both drugs first: one label naming the other
        both = [c for c in pool if other_names(frame, names_by_concept, c.hit.document.id)
                and names_focus(c.text, other_names(frame, names_by_concept, c.hit.document.id))]
        ranked = both + [c for c in ranked if c not in both]
    if frame.effects:  # "does X cause Y?": a sentence naming Y (and X) first; the second one names Y too
        named = sorted((c for c in ranked if frame.names_effect(c.text)),
                       key=lambda c: not c.features.get("names_focus"))
        ranked = named + [c for c in ranked if c not in named]
    if frame.aspect == "max_dose":  # a limit first ("do not exceed 40 mg" over "start at 20 mg"), the general one
        limits = sorted((c for c in ranked if ASPECT_CUES["max_dose"].search(c.text)),  # before a special case's
                        key=lambda c: CONDITIONAL.search(c.text) is not None)
        ranked = limits + [c for c in ranked if c not in limits]
    if frame.aspect in ("screening", "prevention"):
        age = question_age(frame)
        recommendations = sorted((c for c in pool if _is_recommendation(c)),
                                 key=lambda c: (not fits_population(c, frame, age),
                                                c.hit.document.grade not in ("A", "B"),
                                                -((c.meaning or 0.0) + 0.25 * c.support)))
        ranked = recommendations + [c for c in ranked if c not in recommendations]
    chosen: list[Candidate] = [lead] if lead is not None else []

    def adds(c: Candidate) -> bool:
        return not any(c.place == d.place or near_duplicate(c.text, d.text) for d in chosen)

    if not chosen and ranked:
        chosen.append(ranked[0])
    elif lead is not None and stance_no and frame.aspect not in NO_HARM_ASPECTS:  # a "no" is followed by why
        def about_both(c: Candidate) -> bool:  # a two-drug question's reason names the other drug too
            others = other_names(frame, names_by_concept, c.hit.document.id)
            return len(frame.drugs) < 2 or (bool(others) and names_focus(c.text, others))

        # The most specific harm first; among those, a sentence that says it causes it ("can cause major
        # congenital malformations") before one that only mentions it ("testing to detect neural tube defects").
        reason = next((c for why in REASON_FOR.get(frame.aspect, (REASON,))
                       for c in sorted(pool, key=lambda c: CAUSES.search(c.text) is None)
                       if c.tier is not None and why.search(c.text) and adds(c) and about_both(c)
                       and (_same_topic(c, chosen[0]) if _is_recommendation(chosen[0]) else not _is_recommendation(c))),
                      None)  # a guideline's "no" is explained by that guideline topic's own text
        if reason is not None:
            chosen.append(reason)
    for aspect in frame.also:  # the second thing asked gets the second sentence
        cue = ALSO_CUES.get(aspect)
        second = next((c for c in pool if cue and cue.search(c.text) and adds(c)), None)
        if second is not None and len(chosen) < 2:
            chosen.append(second)
    for c in ranked:
        if len(chosen) >= 2:
            break
        if not adds(c):
            continue
        carries = c.cue or (c.tier == 0 and frame.aspect not in ASPECT_CUES)  # what the aspect needs
        if (sum(len(d.text.split()) for d in chosen) + len(c.text.split()) > max_words
                or c.score < 0.6 * chosen[0].score or not answers_frame(c, frame) or not carries):
            continue  # the second sentence answers too
        if (_is_recommendation(c) or _is_recommendation(chosen[0])) and not _same_topic(c, chosen[0]):
            continue  # a recommendation's second half is its own topic's text, never another source's
        if not about_population(c.text, frame):
            continue  # a pregnancy question's second sentence speaks of pregnancy too
        if frame.effects and not (frame.names_effect(c.text) and (c.features.get("names_focus")
                                                                  or _THIS_DRUG.search(c.text))):
            continue  # "does X cause Y?": the second sentence is about X and Y too
        chosen.append(c)
    return chosen
