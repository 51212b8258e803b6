"""The verdict of a yes/no question, read from a sentence that takes a stance on what was asked.

Authority decides: a guideline recommendation for the asked population first (USPSTF grade A/B
"recommends" → yes, grade D "recommends against" → no, C and I → it depends / unclear), then the
focus drug's label (contraindicated, do not use, not recommended, avoid → no; a directive such as
"screen for … before starting" → yes), then a study's own conclusion. A sentence counts only when
it is about the frame: the label of the drug asked about, naming the other drug or the population
the question names. When no sentence takes a stance, the verdict says that the sources do not
answer directly — never a yes or no read off a sentence that does not address the question.

A research question (the title of a study search ranks in its top 3, ``anchor.research_study``) is
answered by that study's conclusion, read as a stance on the asked proposition
(``read_conclusion``): the form of the question (does X change Y; are X and Y the same; do they
differ; is X necessary; can X be left out), then each clause of the conclusion, weighed by how
much of the question it speaks about and how early it comes, for a denial of the asked effect
("did not improve", "no significant difference", "not associated", "limited value"), a sameness
or a difference where one of them was asked, or an affirmed or denied need where need was asked.
It never answers "maybe": on PubMedQA no hedge word ("may", "unclear", "further studies are
needed") marks an undecided conclusion more often than a decided one (bench/RESULTS.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medora.answer.anchor import LEAD_TIER, STUDY_TYPES, names_focus, research_study
from medora.answer.frame import QuestionFrame
from medora.answer.evidence import Candidate
from medora.answer.semantic import question_vector, similarities
from medora.retrieve.query import STOPWORDS, stems
from medora.retrieve.terms import TermWeights

NOT_DIRECT = "The sources do not answer this yes-or-no question directly."
CLOSE_IN_MEANING = 0.6  # a label sentence this close to the question speaks to it without sharing its rare words

_LABEL_NO = re.compile(
    r"\b(contraindicated|do not (use|take|start|give|breast-?feed)|should not (be )?(used|taken|given|use|take|"
    r"breast-?feed)|is not recommended|are not recommended|not recommended (for|in|during|while)|"
    r"breast-?feeding is not recommended|avoid (use|using|concomitant|coadministration|breast-?feeding)|"
    r"must not|not to (use|take)|should not be (used|taken)|can cause (fetal harm|birth defects|major congenital malformations)|"
    r"(cause|causes) (fetal harm|birth defects|neural tube defects|major congenital malformations))\b", re.I)
_LABEL_YES = re.compile(
    r"\b(screen (for|patients)|test (for|patients)|should be (screened|tested)|prior to (initiating|starting)|"
    r"before (initiating|starting)|is recommended|are recommended|may be used (in|during|while)|"
    r"(is|are) (generally )?(considered )?(safe|compatible))\b", re.I)
_INHERIT_YES = re.compile(r"\b(inherited in an?|autosomal (dominant|recessive)|x-linked|mitochondrial (pattern|"
                          r"inheritance)|maternal inheritance|passed (down|on) (from|through))\b", re.I)
_INHERIT_NO = re.compile(r"\b(is not inherited|are not inherited|not passed (down|on)|usually not inherited|"
                         r"not (an )?inherited)\b", re.I)
_POPULATION_WORDS = {
    "pregnancy": r"pregnan\w*|fetal|fetus|birth defects?|neural tube|malformations?|reproductive potential",
    "breastfeeding": r"breast-?feed\w*|lactation|breast ?milk|nursing",
    "children": r"pediatric|children|infants?|neonates?|newborns?|months of age|years of age|premature",
    "older adults": r"geriatric|elderly|older|65 years",
}
_AGE = re.compile(r"\b(?:i'?m|i am|aged?|age)\s*(\d{1,3})\b|\b(\d{1,3})[- ](?:year|yr)s?[- ]old\b", re.I)
_INFANT_AGE = re.compile(r"\b\d{1,2}[- ](?:week|day|month)s?[- ]old\b", re.I)


@dataclass
class Stance:
    verdict: str  # "yes", "no", "unclear"
    candidate: Candidate | None  # the sentence that takes it (leads the bottom line)
    basis: str  # what the verdict rests on, in words

    @property
    def note(self) -> str | None:
        return NOT_DIRECT if self.candidate is None else None


def question_age(frame: QuestionFrame) -> int | None:
    """The age the question is about, when it says: "I'm 42", "my 15-year-old", "older adults" → 65."""
    if _INFANT_AGE.search(frame.question):
        return 0
    m = _AGE.search(frame.question)
    if m:
        return int(m.group(1) or m.group(2))
    if "older adults" in frame.population:
        return 65
    return None


def fits_population(c: Candidate, frame: QuestionFrame, age: int | None) -> bool:
    """A guideline recommendation applies to the asked population (age range, pregnancy)."""
    meta = c.hit.document.metadata
    rng = meta.get("age_range")
    if age is not None and isinstance(rng, list) and len(rng) == 2 and all(isinstance(x, (int, float)) for x in rng):
        if not rng[0] <= age <= rng[1]:
            return False
    pop = str(meta.get("population") or "").lower()
    if re.search(r"\b(pregnant|postpartum|perinatal)\b", pop):  # a recommendation for pregnancy fits only it
        return "pregnancy" in frame.population or bool(re.search(r"pregnan|postpartum|prenatal", frame.question, re.I))
    return True


def _guideline(pool: list[Candidate], frame: QuestionFrame) -> Stance | None:
    age = question_age(frame)
    recs = [c for c in pool if c.hit.document.doc_type == "guideline" and c.hit.document.grade
            and c.hit.passage.section_type == "recommendation" and re.search(r"\brecommends?\b", c.text, re.I)]
    fitting = [c for c in recs if fits_population(c, frame, age)]
    if not fitting:
        return None
    # The one about the question: closest in meaning, sharing most of its words with the topic's title.
    c = max(fitting, key=lambda c: ((c.meaning or 0.0) + 0.25 * c.support, c.score))
    grade = c.hit.document.grade
    against = re.search(r"recommends? against|does not recommend", c.text, re.I)
    if grade in ("A", "B") and not against:
        return Stance("yes", c, f"guideline recommendation (USPSTF grade {grade})")
    if grade == "D" or against:
        return Stance("no", c, f"guideline recommendation against (USPSTF grade {grade})")
    return Stance("unclear", c, f"guideline: individual decision or insufficient evidence (USPSTF grade {grade})")


def about_population(text: str, frame: QuestionFrame) -> bool:
    """The text names the population a population question asks about (true when it asks about none)."""
    return all(re.search(_POPULATION_WORDS[g], text, re.I) for g in frame.population if g in _POPULATION_WORDS
               and frame.aspect in _POPULATION_ASPECTS)


_POPULATION_ASPECTS = ("pregnancy", "breastfeeding", "children", "older_adults")


def _about_frame(c: Candidate, frame: QuestionFrame, other_names: tuple[str, ...]) -> bool:
    """A label sentence speaks to this question: it names the other drug of a two-drug question, or
    the population asked about."""
    if other_names:
        return names_focus(c.text, other_names)
    for group in frame.population:
        if group in _POPULATION_WORDS and not re.search(_POPULATION_WORDS[group], c.text, re.I):
            return False
    return True


# A contraindication every drug has (allergy to it or its ingredients) answers no question that does
# not ask about allergy.
_GENERIC_CONTRAINDICATION = re.compile(r"\b(hypersensitivity|allerg\w*|anaphyla\w*)\b", re.I)


def specific_terms(weights: TermWeights | None, exclude: set[str], share: float = 0.5) -> set[str]:
    """The question's rarest terms in this library (IDF at least ``share`` of the rarest one's), ``exclude``
    left out."""
    if weights is None or not weights.weights:
        return set()
    top = max(weights.weights.values())
    return {t for t, w in weights.weights.items() if w >= share * top and t not in exclude}


def _label(pool: list[Candidate], frame: QuestionFrame, names_by_concept: dict[int, tuple[str, ...]],
           weights: TermWeights | None = None) -> Stance | None:
    """The label sentence that best addresses the asked proposition (closest in meaning, then score) among
    those that take a stance, are in a section routed for the aspect, and speak to this question."""
    drugs = frame.drugs
    if not drugs:
        return None
    allergy_asked = _GENERIC_CONTRAINDICATION.search(frame.question) is not None
    focus_words = set().union(*(stems(n) for ns in names_by_concept.values() for n in ns)) if names_by_concept else set()
    asked = specific_terms(weights, focus_words)  # "apomorphine", "nitroglycerin"
    found: list[tuple[float, Stance]] = []
    for c in pool:
        if c.hit.document.doc_type != "drug label" or c.tier is None or c.tier >= LEAD_TIER:
            continue
        others = tuple(n for d in drugs if c.hit.document.id not in d.doc_ids for n in names_by_concept.get(d.concept_id, ()))
        if len(drugs) > 1 and not others:
            continue  # the label of neither drug
        if not _about_frame(c, frame, others):
            continue
        if asked and not others and not frame.population and not (asked & stems(c.text)) \
                and (c.meaning is None or c.meaning < CLOSE_IN_MEANING):
            continue  # "grapefruit": a stance on something the question did not ask about
        if _GENERIC_CONTRAINDICATION.search(c.text) and not allergy_asked and not (asked & stems(c.text)):
            continue  # allergy to the drug itself, unless the sentence also names what was asked about
        closeness = (c.meaning if c.meaning is not None else 0.0) + 0.5 * c.overlap - 0.1 * c.tier
        if _LABEL_NO.search(c.text):  # the label says it in words: preferred to a sentence that only sits there
            found.append((closeness + 0.15, Stance("no", c, "drug label: " + _LABEL_NO.search(c.text).group(0).lower())))
        elif c.hit.passage.section_type == "contraindications":  # the label lists it under Contraindications
            found.append((closeness, Stance("no", c, "drug label: listed under contraindications")))
        elif _LABEL_YES.search(c.text) and not re.search(r"\bnot\b", c.text, re.I):
            found.append((closeness, Stance("yes", c, "drug label: " + _LABEL_YES.search(c.text).group(0).lower())))
    if not found:
        return None
    # Sentences outside the meaning shortlist are scored now: the closest in meaning must win fairly.
    unscored = [st.candidate for _, st in found if st.candidate.meaning is None]
    if unscored:
        for c, sim in zip(unscored, similarities(question_vector(frame.question), [c.text for c in unscored])):
            c.meaning = sim
        found = [(closeness + (st.candidate.meaning if st.candidate in unscored else 0.0), st) for closeness, st in found]
    return max(found, key=lambda f: f[0])[1]


def _inheritance(pool: list[Candidate], frame: QuestionFrame) -> Stance | None:
    if frame.aspect not in ("inheritance", "cause", "risk"):
        return None
    for c in pool[:12]:
        if _INHERIT_NO.search(c.text):
            return Stance("no", c, "the source says it is not inherited")
        if _INHERIT_YES.search(c.text):
            return Stance("yes", c, "the source gives its inheritance pattern")
    return None


# ------------------------------------------------------------------ a study's conclusion as a stance
# The form of the asked proposition:
# - omission, "can X be omitted / stopped?": a denied need ("no need for X") affirms it, an affirmed need denies it;
# - sameness, "are X and Y the same / equivalent / in agreement?": a reported difference answers it "no" ("at the
#   same centre" is a place, not sameness: "same" counts just before "as", "or", "from" or the question's end);
# - necessity, "is X (always) necessary?": a conclusion that never affirms the need answers "no" (it names the
#   cases where X can be left out), as does a need restricted to some cases;
# - difference, "is there a difference between X and Y?": a reported sameness answers it "no";
# - effect, every other question (does X change, predict, go with Y?): a denial of the effect answers it "no".
# Doubting wording ("is it really…", "always") makes a conclusion without a stance word read as "no".
_SAMENESS_Q = re.compile(
    r"\b(equal(ly)?|same(?=( [\w-]+){0,2} (as|or|from)\b|( [\w-]+){0,2}\s*[?:]|\s*$)|similar(ly)?|comparable|"
    r"equivalent|agree|concordan\w*|interchangeabl\w*|identical|"
    r"as (good|effective|safe|accurate|reliable|efficacious|useful|sensitive) as)\b", re.I)
_NECESSITY_Q = re.compile(r"\b(necessary|needed|required|mandatory|indispensable|essential|need)\b", re.I)
_DIFFERENCE_Q = re.compile(r"\b(differ|differs|differences?|different)\b", re.I)
_OMISSION_Q = re.compile(r"\b(omit\w*|omission|dispens\w*|unnecessary|avoid\w*|abandon\w*|stopp?(ed|ing)?|"
                         r"discontinu\w*)\b", re.I)
_DENIED_NEED = re.compile(r"\b(no (need|requirement)|unnecessary|not (\w+ )?(necessary|needed|required|"
                          r"indicated|mandatory|essential))\b", re.I)
_DOUBTING_Q = re.compile(r"\b(really|always|just|myth)\b", re.I)
_AFFIRMS_NEED = re.compile(r"\b(necessary|needed|required|mandatory|indispensable|essential|must|should be|"
                           r"recommended|warranted|important)\b", re.I)
# Need restricted to some cases ("necessary only in patients with symptoms", "selective screening") denies a
# general need.
_ONLY_SOME = re.compile(r"\b(only (in|for|when|if)|selective\w*|in selected)\b", re.I)
# Negations that do not deny: "not only", "should not hesitate", "cannot be ruled out", "not uncommon".
_NOT_DENYING = (r"(?! only\b| hesitate\b| be (excluded|ruled out|ignored|neglected|overlooked|underestimated|"
                r"dismissed)\b| (uncommon|unusual|infrequent|insignificant|negligible|unimportant|unexpected|unlike|"
                r"unreasonable)\b| (necessarily )?preclude\b)")
_EFFECTS = (r"evidence|benefit|difference|differences|effect|effects|improvement|association|associations|correlation|"
            r"correlations|relationship|relation|impact|influence|advantage|need|role|place|value|increase|reduction|"
            r"decrease|change|changes|superiority|predictive|prognostic|alteration|gain|protection|protective|link|"
            r"indication|justification|contribution|utility|usefulness|effectiveness|efficacy|significance")
# A clause that denies the asked effect, association or need. A negation inside a relative clause ("patients who
# did not receive X") names a group and denies nothing.
_DENIAL = re.compile(
    r"(?<!\bwho )(?<!\bthat )(?<!\bwhich )(?<!\bthose )"
    r"\b((did|does|do|was|were|is|are|has|have|had|could|can|may|might|will|would|need|should)( \w+ly)?\s?n[o']t\b"
    + _NOT_DENYING + r"|cannot\b" + _NOT_DENYING + r"|"
    r"not (significantly |statistically |necessarily |clearly |independently |strongly |dependent on |always )?"
    r"(associated|related|correlated|linked|predictive|predict\w*|necessary|needed|required|useful|reliable|justified|"
    r"warranted|recommended|superior|effective|beneficial|influenced|affected|improved?|reduced?|increased?|supported|"
    r"different|differ|significant|accurate|adequate|sufficient|indicated|feasible|appropriate|better|worse|"
    r"a (predictor|risk factor|reliable|useful|good|significant|major|strong))\b|"
    r"no (statistically |clinically )?(significant |clear |major |additional |further |real |obvious |relevant |"
    r"measurable |added |independent |meaningful |consistent |substantial |appreciable |systematic |statistical )?"
    r"(" + _EFFECTS + r")|"
    r"none of|neither\b|failed to|fails to|fail to|unable to|"
    r"lack(s|ed|ing)? (of )?(a |any |the )?(significant |clear |necessary )?(effect|benefit|association|correlation|"
    r"difference|improvement|efficacy|evidence|relationship|sensitivity|specificity|accuracy|understanding|awareness|"
    r"knowledge|power)|"
    r"(?<!presence or )absence of|not dependent on|"
    r"(is|are|was|were|be|remains?) (largely |entirely |completely )?independent of|"
    r"rul(e|es|ed|ing) out (a|an|the|any)\b|"
    r"without (any )?(significant |clinically )?(difference|effect|improvement|benefit|increase|change|advantage)|"
    r"ineffective|unnecessary|unjustified|unreliable|inaccurate|unsuitable|unlikely|not likely|nonequivalent|"
    r"insufficient|inadequate\w*|disappointing|cast\w* doubt|questionable|"
    r"erroneous|dissatisf\w*|"
    r"only (a )?(slight|small|minor|modest|marginal|weak|partly|partially|limited|minority|few)|"
    r"(little|limited|minimal|marginal|negligible|poor|low|weak|few)( and [\w-]+| or no)? (benefit|value|effect|"
    r"impact|evidence|role|use|utility|usefulness|predictive|prognostic|correlation|association|agreement|"
    r"sensitivity|accuracy|reliability|advantage|influence|knowledge|awareness|improvement|relevance|ability|"
    r"indications?|success|concordance)|"
    r"(remains?|was|were|is|are) (very )?(low|poor|minimal|weak|limited)|"
    r"(poorly|weakly) (correlat\w+|associat\w+|predict\w+)|"
    r"no longer|unaffected|unchanged|unrelated|contrary to)\b",
    re.I)
# Where sameness was asked: "no difference" affirms it; a difference, a denial or a weak agreement denies it.
_NO_DIFFERENCE = re.compile(r"\b(no (statistically )?(significant )?differences?|(did|do|does) not (significantly )?"
                            r"differ|not (significantly )?different)\b", re.I)
_SAME = re.compile(r"\b(similar|comparable|equivalent|equally|same|identical|agree\w*|concordan\w*|interchangeabl\w*|"
                   r"non-?inferior|consistent|reliab\w*|correlat\w*)\b", re.I)
_NOT_SAME = re.compile(r"\b(not|non|less|poor|low|weak|limited)[ -]?(\w+ )?(similar|comparable|equivalent|identical|"
                       r"interchangeabl\w*|agree\w*|concordan\w*|consistent|reliab\w*|correlat\w*)\b", re.I)
_DIFFERENT = re.compile(
    r"\b(differ(s|ed|ing)?|different|differences?|discrepan\w*|disagree\w*|superior|inferior|overestimat\w*|"
    r"underestimat\w*|better|worse|higher|lower|longer|shorter|greater|smaller|heavier|outperform\w*)\b", re.I)
# A clause boundary where a conclusion turns: "X improved, but Y did not".
_CLAUSES = re.compile(r";|,\s*(?=\b(?:but|whereas|although|though|however|yet|while)\b)|\b(?:but|whereas|however)\b",
                      re.I)
EARLIER = 0.8  # a conclusion's first sentence says its finding: each later sentence weighs this much less
TOPIC_FLOOR = 0.1  # a clause sharing none of the question's words still counts this much
NO_STANCE_WEIGHT = 0.3  # a clause with no stance word leans to the question's default (yes, or no when doubted)


@dataclass
class ConclusionReading:
    """What a conclusion says about the asked proposition."""

    verdict: str  # "yes" or "no"
    sentence: int  # index of the sentence that weighs most for the verdict
    form: str  # "omission", "sameness", "necessity", "difference" or "effect" (see proposition_form)
    cue: str | None  # the stance words of that sentence, when it has any


def proposition_form(question: str) -> str:
    """The form of the question's proposition: "omission" (can X be left out?), "sameness" (are X and Y the
    same?), "necessity" (is X necessary?), "difference" (do X and Y differ?) or "effect" (does X change Y?)."""
    if _OMISSION_Q.search(question):
        return "omission"
    if _SAMENESS_Q.search(question):
        return "sameness"
    if _NECESSITY_Q.search(question):
        return "necessity"
    if _DIFFERENCE_Q.search(question):
        return "difference"
    return "effect"


def clause_stance(clause: str, form: str) -> tuple[str, str] | None:
    """("yes" | "no", the words that say it) for a clause that takes a stance on a proposition of ``form``."""
    if form == "sameness":
        for rx, verdict in ((_NO_DIFFERENCE, "yes"), (_NOT_SAME, "no"), (_DENIAL, "no"), (_DIFFERENT, "no"),
                            (_SAME, "yes")):
            m = rx.search(clause)
            if m:
                return verdict, m.group(0)
        return None
    if form == "difference":  # "is there a difference …?": sameness denies it
        for rx, verdict in ((_NO_DIFFERENCE, "no"), (_NOT_SAME, "yes"), (_SAME, "no")):
            m = rx.search(clause)
            if m:
                return verdict, m.group(0)
    if form == "omission":
        m = _DENIED_NEED.search(clause)
        if m:
            return "yes", m.group(0)
    m = _DENIAL.search(clause)
    if m:
        return "no", m.group(0)
    m = _ONLY_SOME.search(clause) if form == "necessity" else None
    if m:
        return "no", m.group(0)
    m = _AFFIRMS_NEED.search(clause) if form in ("necessity", "omission") else None
    return (("yes" if form == "necessity" else "no"), m.group(0)) if m else None


def read_conclusion(question: str, sentences: list[str], weights: dict[str, float] | None = None) -> ConclusionReading:
    """A study's conclusion (its sentences in order) read as a stance on ``question``'s proposition.

    Every clause votes: for the stance it takes, or, without a stance word, for the question's default ("yes";
    "no" where sameness or need was asked or the wording doubts it) at a lower weight. A vote weighs the share
    of the question's terms (``weights``: stem -> IDF; equal weights without) the clause repeats, and less for
    each later sentence."""
    if not sentences:
        raise ValueError("a conclusion to read needs at least one sentence")
    own = {t for t in stems(question) if t not in STOPWORDS and not t.isdigit()}
    terms = {t: w for t, w in (weights or {}).items() if t in own} or dict.fromkeys(own, 1.0)
    total = sum(terms.values()) or 1.0
    form = proposition_form(question)
    default = "no" if form in ("sameness", "necessity") or _DOUBTING_Q.search(question) else "yes"
    votes = {"yes": 0.0, "no": 0.0}
    by_sentence: list[dict[str, float]] = []
    cues: list[dict[str, str]] = []
    for i, sentence in enumerate(sentences):
        mine = {"yes": 0.0, "no": 0.0}
        said: dict[str, str] = {}
        for clause in (c for c in _CLAUSES.split(sentence) if c and c.strip()):
            words = stems(clause)
            topic = sum(w for t, w in terms.items() if t in words) / total
            weight = (topic + TOPIC_FLOOR) * EARLIER ** i
            stance = clause_stance(clause, form)
            if stance is None:
                mine[default] += weight * NO_STANCE_WEIGHT
            else:
                mine[stance[0]] += weight
                said.setdefault(stance[0], stance[1])
        for k in votes:
            votes[k] += mine[k]
        by_sentence.append(mine)
        cues.append(said)
    verdict = "no" if votes["no"] > votes["yes"] else "yes"
    best = max(range(len(sentences)), key=lambda i: (by_sentence[i][verdict], -i))
    return ConclusionReading(verdict, best, form, cues[best].get(verdict))


def _study_sentences(pool: list[Candidate], study: int, section_type: str) -> list[Candidate]:
    """The study's sentences of one section type in the evidence, in the order the abstract gives them."""
    return sorted({c.place: c for c in pool if c.hit.document.id == study
                   and c.hit.passage.section_type == section_type}.values(),
                  key=lambda c: (c.hit.passage.ordinal, c.start))


def _study_conclusion(pool: list[Candidate], frame: QuestionFrame, search_rank: dict[int, int],
                      weights: TermWeights | None, study: int | None = None) -> Stance | None:
    """A study's whole conclusion, read in order as a stance on the question: ``study`` (a document id) when the
    question is its research question, else the study whose conclusion passage search ranks best (top 3).
    When none of the research question's study's conclusion is quotable, its results are read instead."""
    part = "conclusion"
    if study is None:
        ranked = sorted((c for c in pool if c.hit.passage.section_type == "conclusions"
                         and search_rank.get(c.hit.passage.id, 99) <= 3), key=lambda c: search_rank[c.hit.passage.id])
        if not ranked:
            return None
        study = ranked[0].hit.document.id
        sentences = _study_sentences(pool, study, "conclusions")
    else:
        sentences = _study_sentences(pool, study, "conclusions")
        if not sentences:
            part, sentences = "results", _study_sentences(pool, study, "results")
    if not sentences:
        return None
    reading = read_conclusion(frame.question, [c.text for c in sentences], weights.weights if weights else None)
    how = {"sameness": "whether they are the same", "necessity": "whether it is needed",
           "difference": "whether they differ", "omission": "whether it can be left out",
           "effect": "the asked effect"}[reading.form]
    basis = (f"the study's {part} on {how}: \"{reading.cue}\"" if reading.cue
             else f"the study's {part} on {how} (no denial of it)")
    return Stance(reading.verdict, sentences[reading.sentence], basis)


def take_stance(pool: list[Candidate], frame: QuestionFrame, names_by_concept: dict[int, tuple[str, ...]],
                weights: TermWeights | None = None, search_rank: dict[int, int] | None = None) -> Stance:
    """The verdict and the sentence it rests on (see the module docstring for the order)."""
    ranks = search_rank or {}
    first = min(pool, key=lambda c: ranks.get(c.hit.passage.id, 99), default=None)
    # A research question (a study's own title, search ranks the study in its top 3) is answered by that study
    # (the same study ``anchor.gather`` kept the search results for); a question naming no drug, by the study
    # whose conclusion search ranks best when search ranked a study first.
    own = research_study(frame.question, [(ranks[c.hit.passage.id], c.hit) for c in pool if c.hit.passage.id in ranks])
    studied_first = (first is not None and ranks.get(first.hit.passage.id, 99) <= 3
                     and first.hit.document.doc_type in STUDY_TYPES)
    if own is not None or (studied_first and not frame.drugs):
        found = (own is not None and _study_conclusion(pool, frame, ranks, weights, own.document.id)) or \
            _study_conclusion(pool, frame, ranks, weights)
        if found:
            return found
    if frame.aspect in ("screening", "prevention") or not frame.drugs:
        found = _guideline(pool, frame)
        if found:
            return found
    for step in (lambda: _label(pool, frame, names_by_concept, weights), lambda: _inheritance(pool, frame),
                 lambda: _guideline(pool, frame), lambda: _study_conclusion(pool, frame, ranks, weights)):
        found = step()
        if found:
            return found
    return Stance("unclear", None, "no source sentence takes a stance on the question")
