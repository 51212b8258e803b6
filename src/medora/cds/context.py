"""The patient context of a CDS Hooks call, read from FHIR R4 resources with ``fhir.resources``.

``draftOrders`` (a Bundle of MedicationRequests) gives the medications being ordered; the prefetched
``medications`` (MedicationRequest or MedicationStatement, a searchset Bundle) the patient's active
medications; ``conditions`` (Condition) the active problems, pregnancy among them. A medication is
named by its RxNorm codings and its text or displays (``medicationCodeableConcept``, or the Medication
that ``medicationReference`` points to: contained or in the same Bundle). Malformed resources raise
``CdsRequestError`` naming the field, never echoing its value (it may be patient data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10 = ("http://hl7.org/fhir/sid/icd-10-cm", "http://hl7.org/fhir/sid/icd-10")
PREGNANCY_SNOMED = frozenset({"77386006", "72892002", "47200007", "237240001", "102875000"})
ACTIVE_REQUEST = frozenset({"active", "on-hold", "draft"})
ACTIVE_STATEMENT = frozenset({"active", "intended", "on-hold"})
INACTIVE_CONDITION = frozenset({"inactive", "remission", "resolved"})
REFUTED = frozenset({"refuted", "entered-in-error"})
_TAG = re.compile(r"\s*\((?:disorder|finding|situation|clinical finding|morphologic abnormality|event)\)\s*$", re.I)
# Words before a one-word condition name that make it a different condition ("respiratory depression").
OTHER_CONDITION_WORDS = frozenset("""respiratory ventilatory cns nervous marrow myocardial segment st-segment cardiac
    circulatory cardiovascular neonatal fetal bone renal hepatic""".split())
_QUALIFIERS = ("history of", "active", "chronic", "acute", "severe", "moderate", "mild", "known", "recent",
               "current", "suspected")


class CdsRequestError(ValueError):
    """A request the service cannot use (answered 400 with this message)."""


@dataclass(frozen=True)
class Medication:
    """A medication as the record names it."""

    name: str  # the record's text or first display, for cards
    texts: tuple[str, ...]  # text and every coding display, to resolve by name
    rxnorm: tuple[str, ...] = ()
    reference: str | None = None  # "MedicationRequest/<id>", to match order-select's selections


@dataclass(frozen=True)
class Condition:
    """An active condition: how cards name it, and the words a label sentence must contain to concern it."""

    name: str
    terms: tuple[str, ...]
    pregnancy: bool = False

    def pattern(self) -> re.Pattern[str]:
        if self.pregnancy:
            return re.compile(r"\bpregnan\w*", re.I)
        alternatives = "|".join(re.escape(t) for t in sorted(self.terms, key=len, reverse=True))
        return re.compile(rf"\b(?:{alternatives})(?:s|es)?\b", re.I)

    def named_in(self, sentence: str) -> bool:
        """Whether the sentence names this condition: a one-word name right after a word that makes it another
        condition does not count ("respiratory depression" is not depression)."""
        for match in self.pattern().finditer(sentence):
            before = re.findall(r"[\w-]+", sentence[:match.start()][-40:])
            if " " in match.group() or not before or before[-1].lower() not in OTHER_CONDITION_WORDS:
                return True
        return False


@dataclass
class PatientContext:
    """What the checks need. ``None`` medications or conditions: the client did not send them."""

    orders: list[Medication] = field(default_factory=list)  # being ordered now: checked
    other_orders: list[Medication] = field(default_factory=list)  # other unsigned orders of this session
    medications: list[Medication] | None = None
    conditions: list[Condition] | None = None


def _issue(where: str, exc: ValidationError) -> CdsRequestError:
    first = exc.errors()[0]
    loc = ".".join(str(part) for part in first.get("loc", ()))
    count = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return CdsRequestError(f"{where}{'.' + loc if loc else ''}: {first.get('msg', 'invalid')}{count}")


def resources(value: Any, where: str) -> list[Any]:
    """The FHIR resources of ``value``: a Bundle's entries, or one resource; parsed and validated."""
    if value is None:
        return []
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        raise CdsRequestError(f"{where} must be a FHIR resource (a JSON object with a resourceType)")
    try:
        model = get_fhir_model_class(value["resourceType"])
    except (ValueError, KeyError):
        raise CdsRequestError(f"{where}: unknown FHIR resourceType {value['resourceType']!r}") from None
    try:
        resource = model.model_validate(value)
    except ValidationError as exc:
        raise _issue(where, exc) from None
    except KeyError as exc:  # fhir.resources: a contained or entry resource of a type it does not know
        kind = re.search(r"\.(\w+)Type$", str(exc.args[0]) if exc.args else "")
        raise CdsRequestError(f"{where}: unknown FHIR resourceType {kind.group(1)!r}" if kind
                              else f"{where}: not a valid FHIR resource") from None
    except (ValueError, TypeError):
        raise CdsRequestError(f"{where}: not a valid FHIR resource") from None
    if resource.get_resource_type() == "Bundle":
        return [entry.resource for entry in resource.entry or [] if entry.resource is not None]
    return [resource]


def _texts(concept: Any) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(name, texts, RxNorm codes) of a CodeableConcept."""
    if concept is None:
        return "", (), ()
    texts = [concept.text] if concept.text else []
    codes: list[str] = []
    for coding in concept.coding or []:
        if coding.display:
            texts.append(coding.display)
        if coding.system == RXNORM and coding.code:
            codes.append(coding.code)
    texts = [" ".join(t.split()) for t in texts if t and t.strip()]
    return (texts[0] if texts else ""), tuple(dict.fromkeys(texts)), tuple(dict.fromkeys(codes))


def _medication(resource: Any, known: dict[str, Any]) -> Medication:
    concept = getattr(resource, "medicationCodeableConcept", None)
    reference = getattr(resource, "medicationReference", None)
    label = ""
    if concept is None and reference is not None:
        label = reference.display or ""
        ref = reference.reference or ""
        contained = {f"#{c.id}": c for c in resource.contained or [] if c.get_resource_type() == "Medication"}
        target = contained.get(ref) or known.get(f"Medication/{ref.rsplit('/', 1)[-1]}")
        concept = target.code if target is not None else None
    name, texts, codes = _texts(concept)
    if label and label not in texts:
        texts = (*texts, label)
    own = f"{resource.get_resource_type()}/{resource.id}" if resource.id else None
    return Medication(name or label or "an unnamed medication", texts, codes, own)


def medications(items: list[Any], *, active_only: bool) -> list[Medication]:
    """The medications of MedicationRequest/MedicationStatement resources (Medications in the list resolve references)."""
    known = {f"Medication/{r.id}": r for r in items if r.get_resource_type() == "Medication" and r.id}
    out = []
    for resource in items:
        kind = resource.get_resource_type()
        if kind not in ("MedicationRequest", "MedicationStatement"):
            continue
        if active_only and resource.status:
            allowed = ACTIVE_REQUEST if kind == "MedicationRequest" else ACTIVE_STATEMENT
            if resource.status not in allowed:
                continue
        out.append(_medication(resource, known))
    return out


def _is_pregnancy(concept: Any, texts: tuple[str, ...]) -> bool:
    for coding in concept.coding or []:
        if coding.system == SNOMED and coding.code in PREGNANCY_SNOMED:
            return True
        if coding.system in ICD10 and coding.code and (coding.code.startswith(("Z33", "Z34")) or
                                                       coding.code[:1] == "O"):
            return True
    return any(re.search(r"\bpregnan", t, re.I) and not re.search(r"\b(?:not|non-?)\s*pregnan", t, re.I)
               for t in texts)


def _terms(texts: tuple[str, ...]) -> tuple[str, ...]:
    """Phrases a label sentence may name the condition by: each display, without a SNOMED tag, and without
    a leading qualifier ("Active peptic ulcer" -> "peptic ulcer")."""
    out: dict[str, None] = {}
    for text in texts:
        phrase = _TAG.sub("", text).strip().lower()
        while phrase:
            if len(phrase) >= 4:
                out[phrase] = None
            qualifier = next((q for q in _QUALIFIERS if phrase.startswith(q + " ")), None)
            if qualifier is None:
                break
            phrase = phrase[len(qualifier) + 1:].strip()
    return tuple(out)


def conditions(items: list[Any]) -> list[Condition]:
    """Active, not refuted Conditions (a missing clinicalStatus counts as active)."""
    out = []
    for resource in items:
        if resource.get_resource_type() != "Condition" or resource.code is None:
            continue
        clinical = {c.code for c in (resource.clinicalStatus.coding if resource.clinicalStatus else None) or []}
        verification = {c.code for c in (resource.verificationStatus.coding
                                         if resource.verificationStatus else None) or []}
        if clinical & INACTIVE_CONDITION or verification & REFUTED:
            continue
        name, texts, _ = _texts(resource.code)
        if _is_pregnancy(resource.code, texts):
            out.append(Condition("pregnancy", ("pregnancy",), pregnancy=True))
        elif _terms(texts):
            shown = _TAG.sub("", name).strip()
            if shown[:1].isupper() and shown[1:2].islower():  # "Active peptic ulcer" -> "active peptic ulcer"
                shown = shown[0].lower() + shown[1:]
            out.append(Condition(shown, _terms(texts)))
    return out
