"""CDS Hooks 2.0 on ``medora serve``: ``GET /cds-services`` (discovery) and ``POST /cds-services/{id}``.

Services: ``medora-order-select`` and ``medora-order-sign`` check the medications being ordered
(``context.draftOrders``, FHIR R4 MedicationRequests) against their labels' boxed warnings, the
patient's active conditions (contraindications) and active medications and other orders
(interactions); ``medora-patient-view`` checks the active medications against each other and the
conditions. Patient data comes only from the request (``prefetch``): ``fhirServer`` and
``fhirAuthorization`` are accepted and ignored, so no FHIR server is ever called. A request that is
not valid JSON or not a valid hook call is answered 400 with a message; a patient-view call without
the prefetched medications 412 (the specification's "unable to retrieve the necessary FHIR data").
Nothing from the request's context is logged: only the service, the number of cards and timing.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from medora.api import problems
from medora.api.context import server_of
from medora.cds.schema import Card, CdsResponse, Discovery, ServiceDescription
from medora.publish.errors import NotFound

if TYPE_CHECKING:  # imported when a service is called: FHIR models take a while to load
    from medora.cds.cards import CardMaker
    from medora.cds.context import Medication, PatientContext
    from medora.cds.drugs import DrugResolver, LabelDrug

log = logging.getLogger("medora.api.cds")
router = APIRouter(tags=["cds-hooks"])

GROUP_INFO_AFTER = 1  # more info-level interactions than this share one card
KIND_ORDER = {"condition": 0, "interaction": 1, "boxed warning": 2}  # cards of equal urgency, most specific first
PREFETCH = {
    "patient": "Patient/{{context.patientId}}",
    "medications": "MedicationRequest?patient={{context.patientId}}&status=active",
    "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
}


@dataclass(frozen=True)
class Service:
    hook: str
    title: str
    description: str
    context: tuple[str, ...]  # required context fields besides userId and patientId

    def describe(self, service_id: str) -> ServiceDescription:
        return ServiceDescription(hook=self.hook, title=self.title, description=self.description, id=service_id,
                                  prefetch=PREFETCH)


SERVICES = {
    "medora-order-select": Service(
        "order-select", "Medora drug label checks (order select)",
        "Quotes FDA labels in Medora's library on the selected medication orders: boxed warnings, "
        "contraindications naming the patient's active conditions (e.g. pregnancy), and interactions with "
        "the active medications and other draft orders.", ("selections", "draftOrders")),
    "medora-order-sign": Service(
        "order-sign", "Medora drug label checks (order sign)",
        "Quotes FDA labels in Medora's library on every medication order about to be signed: boxed warnings, "
        "contraindications naming the patient's active conditions, and interactions with the active "
        "medications and the other orders.", ("draftOrders",)),
    "medora-patient-view": Service(
        "patient-view", "Medora drug label review of the medication list",
        "Quotes FDA labels in Medora's library on the patient's active medications: interactions between "
        "them and contraindications naming the patient's active conditions.", ()),
}


def _bad_request(message: str) -> JSONResponse:
    return problems.problem("bad-request", message)


@router.get("/cds-services", response_model=Discovery, response_model_exclude_none=True,
            summary="CDS Hooks discovery: the services Medora offers")
def discovery() -> Discovery:
    return Discovery(services=[service.describe(sid) for sid, service in SERVICES.items()])


_CALL = {"type": "object", "required": ["hook", "hookInstance", "context"], "properties": {
    "hook": {"type": "string"}, "hookInstance": {"type": "string"}, "fhirServer": {"type": "string"},
    "fhirAuthorization": {"type": "object"}, "context": {"type": "object"}, "prefetch": {"type": "object"}}}


@router.post("/cds-services/{service_id}", response_model=CdsResponse, response_model_exclude_none=True,
             summary="Call a CDS Hooks service",
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": _CALL}}}},
             responses={**problems.responses(400, 404, 413, 429, 500),
                        412: {"model": problems.Problem, "description": "The prefetched FHIR data it needs is missing"}})
async def call_service(service_id: str, request: Request) -> Any:
    """A CDS Hooks 2.0 request (hook, hookInstance, context, prefetch) -> cards quoting drug labels."""
    service = SERVICES.get(service_id)
    if service is None:
        raise NotFound(f"no CDS service {service_id!r}; GET /cds-services lists them")
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return _bad_request("the request body is not valid JSON")
    from medora.cds.cards import CardMaker
    from medora.cds.context import CdsRequestError

    started = time.perf_counter()
    maker = CardMaker(str(request.base_url))

    def answer() -> list[Card]:  # on a worker thread: FHIR parsing and the library reads block
        return _cards(request, service, read_request(service, body), maker)

    try:
        cards = await run_in_threadpool(answer)
    except CdsRequestError as exc:
        return _bad_request(str(exc))
    except PreconditionFailed as exc:
        return problems.ProblemResponse({"type": "about:blank", "title": "Precondition Failed", "status": 412,
                                         "detail": str(exc)}, status_code=412)
    log.info("cds %s: %d cards in %.0f ms", service_id, len(cards), (time.perf_counter() - started) * 1000)
    return CdsResponse(cards=cards)


class PreconditionFailed(Exception):
    """The service needs FHIR data the request did not carry (answered 412)."""


def read_request(service: Service, body: Any) -> PatientContext:
    """Validate a hook call against CDS Hooks 2.0 and read its FHIR data; ``CdsRequestError`` says what is wrong."""
    from medora.cds.context import CdsRequestError, PatientContext, conditions, medications, resources

    if not isinstance(body, dict):
        raise CdsRequestError("the request body must be a JSON object")
    hook = body.get("hook")
    if not isinstance(hook, str) or not hook:
        raise CdsRequestError("hook is required (a string)")
    if hook != service.hook:
        raise CdsRequestError(f"this service answers the {service.hook!r} hook, not {hook!r}")
    if not isinstance(body.get("hookInstance"), str) or not body["hookInstance"].strip():
        raise CdsRequestError("hookInstance is required (a string, a UUID)")
    if "fhirServer" in body and not isinstance(body["fhirServer"], str):
        raise CdsRequestError("fhirServer must be a URL string")
    if "fhirAuthorization" in body:  # accepted, checked for shape, never used: no FHIR server is called
        if not isinstance(body["fhirAuthorization"], dict):
            raise CdsRequestError("fhirAuthorization must be an object")
        if "fhirServer" not in body:
            raise CdsRequestError("fhirServer is required when fhirAuthorization is given")
    context = body.get("context")
    if not isinstance(context, dict):
        raise CdsRequestError("context is required (an object)")
    for name in ("userId", "patientId"):
        if not isinstance(context.get(name), str) or not context[name].strip():
            raise CdsRequestError(f"context.{name} is required (a non-empty string)")
    prefetch = body.get("prefetch", {})
    if prefetch is None:
        prefetch = {}
    if not isinstance(prefetch, dict):
        raise CdsRequestError("prefetch must be an object")
    patient = PatientContext()
    if "medications" in prefetch and prefetch["medications"] is not None:
        patient.medications = medications(resources(prefetch["medications"], "prefetch.medications"),
                                          active_only=True)
    if "conditions" in prefetch and prefetch["conditions"] is not None:
        patient.conditions = conditions(resources(prefetch["conditions"], "prefetch.conditions"))
    if "patient" in prefetch and prefetch["patient"] is not None:
        resources(prefetch["patient"], "prefetch.patient")  # validated; nothing in it is needed
    if "draftOrders" in service.context:
        orders = context.get("draftOrders")
        if not isinstance(orders, dict) or orders.get("resourceType") != "Bundle":
            raise CdsRequestError("context.draftOrders is required (a FHIR Bundle of orders)")
        drafts = medications(resources(orders, "context.draftOrders"), active_only=False)
        if "selections" in service.context:
            selections = context.get("selections")
            if (not isinstance(selections, list) or not selections
                    or not all(isinstance(s, str) and s for s in selections)):
                raise CdsRequestError("context.selections is required (a list of 'Type/id' references)")
            patient.orders = [m for m in drafts if m.reference in selections]
            if not patient.orders and not any(s.startswith("MedicationRequest/") for s in selections):
                return patient  # another kind of order was selected: nothing for Medora to check
            if not patient.orders:
                raise CdsRequestError("context.selections names no MedicationRequest in context.draftOrders")
            patient.other_orders = [m for m in drafts if m.reference not in selections]
        else:
            patient.orders = drafts
    elif patient.medications is None:
        raise PreconditionFailed("patient-view needs the prefetched 'medications' (MedicationRequest?patient="
                                 "{{context.patientId}}&status=active); Medora never queries a FHIR server")
    return patient


def _resolve(resolver: DrugResolver, meds: list[Medication], unresolved: list[str]) -> list[LabelDrug]:
    out = []
    for med in meds:
        found = resolver.resolve(med)
        if not found and med.name not in unresolved:
            unresolved.append(med.name)
        out += found
    return out


def _cards(request: Request, service: Service, patient: PatientContext, maker: CardMaker) -> list[Card]:
    from medora.cds.drugs import DrugResolver
    from medora.cds.findings import Finding, LabelReader, boxed_warning, condition_caution, interaction

    store = server_of(request).libraries.local().store
    resolver, reader = DrugResolver(store), LabelReader(store)
    unresolved: list[str] = []
    orders = _resolve(resolver, patient.orders, unresolved)
    others = _resolve(resolver, patient.other_orders, unresolved)
    active = _resolve(resolver, patient.medications or [], unresolved)
    findings: list[Finding] = []
    pairs: set[frozenset[int]] = set()

    def check_pair(drug: LabelDrug, other: LabelDrug) -> None:
        key = frozenset((drug.label.id, other.label.id))
        if key not in pairs and len(key) == 2:
            pairs.add(key)
            found = interaction(reader, drug, other)
            if found:
                findings.append(found)

    checked = orders if service.hook != "patient-view" else active
    for i, drug in enumerate(checked):
        if service.hook != "patient-view":
            found = boxed_warning(reader, drug)
            if found:
                findings.append(found)
        for condition in patient.conditions or []:
            found = condition_caution(reader, drug, condition)
            if found:
                findings.append(found)
        for other in [*checked[i + 1:], *(others if service.hook != "patient-view" else []),
                      *(active if service.hook != "patient-view" else [])]:
            check_pair(drug, other)
    findings.sort(key=lambda f: (-f.strength, KIND_ORDER[f.kind]))
    described = [f for f in findings if f.kind == "interaction" and f.strength == 0]
    if len(described) > GROUP_INFO_AFTER:  # many "the labels describe an interaction" cards: one card for them
        findings = [f for f in findings if f not in described]
    cards = [maker.card(f) for f in findings]
    if len(described) > GROUP_INFO_AFTER:
        cards.append(maker.grouped(described))
    if unresolved:
        cards.append(maker.unresolved(unresolved))
    missing = [what for what, value in (("medications", patient.medications), ("conditions", patient.conditions))
               if value is None]
    if missing and service.hook != "patient-view" and patient.orders:
        cards.append(maker.missing_context(missing))
    return cards
