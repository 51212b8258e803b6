"""CDS Hooks 2.0 on ``medora serve``: requests written after the specification's examples, answered from
real FDA labels (openFDA /drug/label responses for Coumadin, Plavix and Prilosec, added with
``medora ingest``), every response checked against a JSON Schema written from the specification
(``tests/data/cds_hooks_2_0.schema.json``) and every quoted label sentence against the stored passage.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import tarfile
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from conftest import run_cli
from medora.api import ApiSettings, create_app
from medora.settings import Settings
from test_api_security import _start_server

SCHEMA = json.loads((Path(__file__).parent / "data" / "cds_hooks_2_0.schema.json").read_text())
VALIDATORS = {kind: Draft202012Validator({"$ref": f"#/$defs/{kind}", "$defs": SCHEMA["$defs"]})
              for kind in ("discovery", "response")}
LABEL_FILES = ("NDA009218.json", "NDA020839.json", "NDA022056.json")  # warfarin, clopidogrel, omeprazole
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
PATIENT_ID = "1288992"
PATIENT_NAME = "Jacqueline Quintero-Vasquez"  # a name that must never reach a log


@pytest.fixture(scope="module")
def cds_library(tmp_path_factory, shared_sources) -> Path:
    """The three openFDA label responses, extracted from the shared tarball and added with ``medora ingest``."""
    folder = tmp_path_factory.mktemp("cds")
    (tarball,) = (shared_sources / "openfda-labels").glob("*.tar.gz")
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            if Path(member.name).name in LABEL_FILES:
                with archive.extractfile(member) as src, (folder / Path(member.name).name).open("wb") as dst:
                    shutil.copyfileobj(src, dst)
    library = folder / "library.db"
    proc = run_cli("ingest", *(str(folder / name) for name in LABEL_FILES), "--source", "openfda-labels",
                   "--library", str(library), "--format", "json", "-q")
    assert json.loads(proc.stdout)["documents"]["added"] == len(LABEL_FILES)
    return library


@pytest.fixture(scope="module")
def client(cds_library):
    with TestClient(create_app(Settings(library=str(cds_library)), ApiSettings(rate_per_second=0)),
                    raise_server_exceptions=False) as test_client:
        yield test_client


# ------------------------------------------------------------------ requests, after the spec's examples


def med_request(rid: str, status: str, display: str, code: str | None = None, **extra) -> dict:
    coding = [{"system": RXNORM, "code": code, "display": display}] if code else []
    concept = {"coding": coding} if coding else {"text": display}
    return {"resourceType": "MedicationRequest", "id": rid, "status": status, "intent": "order",
            "subject": {"reference": f"Patient/{PATIENT_ID}", "display": PATIENT_NAME},
            "medicationCodeableConcept": concept, **extra}


def bundle(*resources: dict, kind: str = "searchset") -> dict:
    return {"resourceType": "Bundle", "type": kind, "entry": [{"resource": r} for r in resources]}


def condition(display: str, code: str, system: str = SNOMED) -> dict:
    return {"resourceType": "Condition", "id": f"cond-{code}", "subject": {"reference": f"Patient/{PATIENT_ID}"},
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display}}


def hook_call(hook: str, context: dict, prefetch: dict | None = None, **fields) -> dict:
    body = {"hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea", "hook": hook,
            "context": {"userId": "Practitioner/example", "patientId": PATIENT_ID, **context}, **fields}
    if prefetch is not None:
        body["prefetch"] = prefetch
    return body


def patient(gender: str = "female") -> dict:
    return {"resourceType": "Patient", "id": PATIENT_ID, "gender": gender, "birthDate": "1991-03-08",
            "name": [{"text": PATIENT_NAME}]}


def clopidogrel_patient_orders_omeprazole(**fields) -> dict:
    order = med_request("omeprazole-order", "draft", "omeprazole 20 MG Delayed Release Oral Capsule", "198051")
    return hook_call("order-select",
                     {"selections": ["MedicationRequest/omeprazole-order"], "draftOrders": bundle(order, kind="collection")},
                     {"patient": patient("male"),
                      "medications": bundle(med_request("clopidogrel-1", "active", "clopidogrel 75 MG Oral Tablet",
                                                        "309362")),
                      "conditions": bundle(condition("Coronary arteriosclerosis", "53741008"))}, **fields)


def pregnant_patient_orders_warfarin() -> dict:
    order = med_request("warfarin-order", "draft", "warfarin sodium 5 MG Oral Tablet", "855332")
    return hook_call("order-sign", {"draftOrders": bundle(order, kind="collection")},
                     {"patient": patient(), "medications": {"resourceType": "Bundle", "type": "searchset", "total": 0},
                      "conditions": bundle(condition("Pregnant (finding)", "77386006"))})


# ------------------------------------------------------------------------------ checks


def valid(body: dict, kind: str) -> dict:
    """``body`` is a valid discovery or service response, with no null or empty member anywhere."""
    Draft202012Validator.check_schema(SCHEMA)
    errors = sorted(VALIDATORS[kind].iter_errors(body), key=str)
    assert not errors, [e.message for e in errors]

    def walk(value, where):
        assert value is not None and value != "" and value != {}, f"null or empty at {where}"
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}")
        elif isinstance(value, list) and where != "$.cards":  # "cards": [] is the spec's "no guidance"
            assert value, f"empty array at {where}"
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")

    walk(body, "$")
    return body


def unescape(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown)


def quoted_sentences(card: dict) -> list[str]:
    return [unescape(m) for m in re.findall(r"^> (.+) \[\d+\]$", card["detail"], re.M)]


def cited_passages(client: TestClient, card: dict) -> dict[int, dict]:
    """{passage id: the passage and its document} for each passage the card links to, read back from the API."""
    out = {}
    for link in card["links"]:
        doc_id, passage_id = re.search(r"/library/documents/(\d+)#passage-(\d+)$", link["url"]).groups()
        view = client.get(f"/v1/library/documents/{doc_id}").json()
        (passage,) = [p for p in view["passages"] if p["id"] == int(passage_id)]
        out[int(passage_id)] = {**passage, "document": view["document"]}
    return out


def assert_quotes_are_exact(client: TestClient, card: dict) -> dict[int, dict]:
    passages = cited_passages(client, card)
    texts = [" ".join(p["text"].split()) for p in passages.values()]
    quotes = quoted_sentences(card)
    assert quotes
    for quote in quotes:
        assert any(quote in text for text in texts), quote
    return passages


# ------------------------------------------------------------------------------ tests


def test_discovery_describes_each_service_with_prefetch_templates(client):
    body = valid(client.get("/cds-services").json(), "discovery")
    services = {s["id"]: s for s in body["services"]}
    assert {sid: s["hook"] for sid, s in services.items()} == {
        "medora-order-select": "order-select", "medora-order-sign": "order-sign",
        "medora-patient-view": "patient-view"}
    for service in services.values():
        assert service["prefetch"]["medications"] == "MedicationRequest?patient={{context.patientId}}&status=active"
        assert "{{context.patientId}}" in service["prefetch"]["conditions"]


def test_clopidogrel_patient_ordering_omeprazole_gets_a_warning_citing_the_plavix_interaction(client):
    fhir_server = socket.socket()  # a FHIR server that must never be called: the request names it
    fhir_server.bind(("127.0.0.1", 0))
    fhir_server.listen(1)
    fhir_server.setblocking(False)
    host, port = fhir_server.getsockname()
    request = clopidogrel_patient_orders_omeprazole(
        fhirServer=f"http://{host}:{port}/fhir",
        fhirAuthorization={"access_token": "some-opaque-fhir-access-token", "token_type": "Bearer",
                           "expires_in": 300, "scope": "patient/Patient.read patient/MedicationRequest.read",
                           "subject": "cds-service4"})
    response = client.post("/cds-services/medora-order-select", json=request)
    with pytest.raises(BlockingIOError):
        fhir_server.accept()  # nobody connected
    fhir_server.close()

    assert response.status_code == 200, response.text
    cards = valid(response.json(), "response")["cards"]
    (card,) = [c for c in cards if c["indicator"] == "warning"]
    assert not [c for c in cards if c["indicator"] == "critical"]  # Prilosec has no boxed warning
    assert card["summary"] == "Omeprazole with clopidogrel: the labels advise against using them together"
    passages = assert_quotes_are_exact(client, card)
    plavix = [p for p in passages.values() if p["document"]["title"].startswith("Plavix")]
    assert plavix and plavix[0]["section_type"] == "interactions"
    assert plavix[0]["section_path"][0] == "Drug interactions"
    assert "Avoid concomitant use of Plavix with omeprazole or esomeprazole." in quoted_sentences(card)[0]
    assert "Avoid concomitant use of PRILOSEC with clopidogrel." in quoted_sentences(card)
    assert card["source"]["url"].startswith("http://testserver/library/documents/")
    page = client.get(card["links"][0]["url"].replace("http://testserver", ""))
    assert page.status_code == 200 and f'id="passage-{next(iter(passages))}"' in page.text


def test_pregnant_patient_ordering_warfarin_gets_a_critical_card_citing_the_contraindication(client):
    response = client.post("/cds-services/medora-order-sign", json=pregnant_patient_orders_warfarin())
    assert response.status_code == 200, response.text
    cards = valid(response.json(), "response")["cards"]
    assert [c["indicator"] for c in cards] == ["critical", "critical"]
    contraindication, boxed = cards
    assert contraindication["summary"] == "Warfarin label lists pregnancy as a contraindication"
    passages = assert_quotes_are_exact(client, contraindication)
    assert {p["section_type"] for p in passages.values()} == {"contraindications"}
    assert any("COUMADIN is contraindicated in women who are pregnant" in q for q in quoted_sentences(contraindication))
    assert boxed["summary"] == "Boxed warning for warfarin: Bleeding risk"
    assert quoted_sentences(boxed)[0].startswith("WARNING: BLEEDING RISK")
    assert_quotes_are_exact(client, boxed)

    not_pregnant = pregnant_patient_orders_warfarin()
    not_pregnant["prefetch"]["conditions"] = bundle(condition("Atrial fibrillation", "49436004"))
    cards = valid(client.post("/cds-services/medora-order-sign", json=not_pregnant).json(), "response")["cards"]
    assert [c["summary"] for c in cards] == ["Boxed warning for warfarin: Bleeding risk"]


def test_patient_view_checks_the_medication_list_and_lists_what_it_cannot_resolve(client):
    statement = {"resourceType": "MedicationStatement", "id": "ms-1", "status": "active",
                 "subject": {"reference": f"Patient/{PATIENT_ID}"}, "medicationReference": {"reference": "#m1"},
                 "contained": [{"resourceType": "Medication", "id": "m1", "code": {"text": "Plavix 75 mg tablet"}}]}
    request = hook_call("patient-view", {}, {
        "patient": patient(),
        "medications": bundle(statement, med_request("rx-2", "active", "Prilosec 20 mg"),
                              med_request("rx-3", "active", "Zyntrolix 10 mg"),
                              med_request("rx-old", "stopped", "warfarin 5 mg")),
        "conditions": bundle(condition("Pregnant (finding)", "77386006"))})
    response = client.post("/cds-services/medora-patient-view", json=request)
    assert response.status_code == 200, response.text
    cards = valid(response.json(), "response")["cards"]
    assert [c["indicator"] for c in cards] == ["warning", "info"]  # the stopped warfarin is not checked
    assert "clopidogrel" in cards[0]["summary"].lower() and "omeprazole" in cards[0]["summary"]
    assert_quotes_are_exact(client, cards[0])
    assert cards[1]["summary"] == "Not checked: 1 medication with no FDA label in Medora's library"
    assert "- Zyntrolix 10 mg" in cards[1]["detail"]

    no_orders = hook_call("patient-view", {}, {"medications": bundle()})
    assert valid(client.post("/cds-services/medora-patient-view", json=no_orders).json(), "response") == {"cards": []}


def test_orders_without_prefetch_are_checked_alone_and_say_what_was_not_checked(client):
    request = pregnant_patient_orders_warfarin()
    del request["prefetch"]
    cards = valid(client.post("/cds-services/medora-order-sign", json=request).json(), "response")["cards"]
    assert [c["indicator"] for c in cards] == ["critical", "info"]
    assert cards[1]["summary"].startswith("Not checked against the patient's medications and conditions")


@pytest.mark.parametrize("body, status, message", [
    (b"{not json", 400, "not valid JSON"),
    (b"[1, 2]", 400, "must be a JSON object"),
    ({"hookInstance": "x", "context": {}}, 400, "hook is required"),
    ("wrong-hook", 400, "answers the 'order-select' hook, not 'patient-view'"),
    ("no-instance", 400, "hookInstance is required"),
    ("no-patient", 400, "context.patientId is required"),
    ("draft-not-bundle", 400, "context.draftOrders is required"),
    ("bad-order", 400, "context.draftOrders.entry.0.resource.subject: Field required"),
    ("unknown-type", 400, "unknown FHIR resourceType 'Prescription'"),
    ("bad-selection", 400, "selections names no MedicationRequest"),
    ("token-without-server", 400, "fhirServer is required when fhirAuthorization is given"),
    ("bad-prefetch", 400, "prefetch.conditions"),
])
def test_malformed_requests_are_400_with_a_message(client, body, status, message):
    if isinstance(body, str):
        request = clopidogrel_patient_orders_omeprazole()
        order = request["context"]["draftOrders"]["entry"][0]["resource"]
        match body:
            case "wrong-hook":
                request["hook"] = "patient-view"
            case "no-instance":
                del request["hookInstance"]
            case "no-patient":
                del request["context"]["patientId"]
            case "draft-not-bundle":
                request["context"]["draftOrders"] = [order]
            case "bad-order":
                del order["subject"]
                order["note"] = [{"text": PATIENT_NAME}]
            case "unknown-type":
                request["context"]["draftOrders"]["entry"][0]["resource"] = {"resourceType": "Prescription"}
            case "bad-selection":
                request["context"]["selections"] = ["MedicationRequest/another"]
            case "token-without-server":
                request["fhirAuthorization"] = {"access_token": "t", "token_type": "Bearer", "expires_in": 1,
                                                "scope": "x", "subject": "y"}
            case "bad-prefetch":
                request["prefetch"]["conditions"]["entry"][0]["resource"]["clinicalStatus"] = "active"
        body = json.dumps(request).encode()
    elif isinstance(body, dict):
        body = json.dumps(body).encode()
    response = client.post("/cds-services/medora-order-select", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.json()["detail"]
    assert PATIENT_NAME not in response.text


def test_unknown_service_and_missing_prefetch_follow_the_spec(client):
    assert client.post("/cds-services/nope", json=hook_call("patient-view", {})).status_code == 404
    missing = client.post("/cds-services/medora-patient-view", json=hook_call("patient-view", {}))
    assert missing.status_code == 412 and "medications" in missing.json()["detail"]


def test_a_real_server_answers_over_http_and_logs_no_patient_data(cds_library, tmp_path):
    log = tmp_path / "server.log"
    proc, base = _start_server(cds_library, log)  # medora serve --log-level debug
    try:
        with httpx.Client(base_url=base, timeout=60) as http:
            assert valid(http.get("/cds-services").json(), "discovery")
            request = clopidogrel_patient_orders_omeprazole(fhirServer="https://ehr.invalid/fhir", fhirAuthorization={
                "access_token": "opaque-fhir-token-77", "token_type": "Bearer", "expires_in": 300,
                "scope": "patient/*.read", "subject": "medora"})
            response = http.post("/cds-services/medora-order-select", json=request,
                                 headers={"Authorization": "Bearer client-jwt-abc.def.ghi"})
            assert response.status_code == 200
            assert [c["indicator"] for c in valid(response.json(), "response")["cards"]] == ["warning"]
            bad = clopidogrel_patient_orders_omeprazole()
            del bad["context"]["draftOrders"]["entry"][0]["resource"]["subject"]
            assert http.post("/cds-services/medora-order-select", json=bad).status_code == 400
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text(errors="replace")
    assert "POST /cds-services/medora-order-select" in text and "cds medora-order-select: 1 cards" in text
    for private in (PATIENT_ID, PATIENT_NAME, "opaque-fhir-token-77", "client-jwt-abc", "clopidogrel 75 MG"):
        assert private not in text


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
                    max_leaves=12)
PLACES = ("hook", "hookInstance", "fhirServer", "fhirAuthorization", "context", "prefetch", "context.userId",
          "context.patientId", "context.selections", "context.draftOrders", "context.draftOrders.entry",
          "draftOrder", "draftOrder.medicationCodeableConcept", "draftOrder.medicationReference", "draftOrder.status",
          "prefetch.medications", "prefetch.conditions", "prefetch.patient", "condition.code", "condition.clinicalStatus")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(place=st.sampled_from(PLACES), value=JSON)
def test_any_malformed_field_is_a_4xx_never_a_500(client, place, value):
    request = clopidogrel_patient_orders_omeprazole()
    request["prefetch"]["conditions"] = bundle(condition("Pregnant (finding)", "77386006"))
    targets = {"draftOrder": request["context"]["draftOrders"]["entry"][0]["resource"],
               "condition": request["prefetch"]["conditions"]["entry"][0]["resource"]}
    *path, last = place.split(".")
    holder = targets[path[0]] if path and path[0] in targets else request
    for key in path[1:] if path and path[0] in targets else path:
        holder = holder[key]
    holder[last] = value
    response = client.post("/cds-services/medora-order-select", json=request)
    assert response.status_code in (200, 400, 412), response.text
    if response.status_code == 200:
        valid(response.json(), "response")
    else:
        assert response.json()["detail"]


def test_a_contraindication_naming_another_condition_is_critical(client):
    order = med_request("clopidogrel-order", "draft", "Plavix 75 mg tablet")
    request = hook_call("order-sign", {"draftOrders": bundle(order, kind="collection")},
                        {"medications": bundle(), "conditions": bundle(
                            condition("Active peptic ulcer (disorder)", "86554001"),
                            {**condition("Pregnant (finding)", "77386006"),  # resolved: not the patient's now
                             "clinicalStatus": {"coding": [{"code": "resolved"}]}},
                            {**condition("Warfarin allergy", "293569007"),  # refuted: not a contraindication
                             "verificationStatus": {"coding": [{"code": "refuted"}]}})})
    cards = valid(client.post("/cds-services/medora-order-sign", json=request).json(), "response")["cards"]
    assert [c["summary"] for c in cards] == [
        "Clopidogrel label lists active peptic ulcer as a contraindication",
        "Boxed warning for clopidogrel: Diminished antiplatelet effect in patients with two loss-of-function alleles "
        "of the CYP2C19 gene"]
    assert [c["indicator"] for c in cards] == ["critical", "critical"]
    passages = assert_quotes_are_exact(client, cards[0])
    assert {p["section_type"] for p in passages.values()} == {"contraindications"}
    assert any("peptic ulcer" in q for q in quoted_sentences(cards[0]))


def test_pregnancy_is_recognised_from_icd10_and_text_but_not_from_a_negation():
    from medora.cds.context import conditions, resources

    def read(*items):
        return [(c.name, c.pregnancy) for c in conditions(resources(bundle(*items), "prefetch.conditions"))]

    assert read(condition("Pregnant state, incidental", "Z33.1", "http://hl7.org/fhir/sid/icd-10-cm")) == [
        ("pregnancy", True)]
    assert read({**condition("x", "1"), "code": {"text": "Pregnancy, 12 weeks"}}) == [("pregnancy", True)]
    assert read({**condition("x", "1"), "code": {"text": "Not pregnant"}}) == [("not pregnant", False)]


def test_a_combination_label_is_not_taken_for_one_of_its_ingredients():
    from medora.cds.context import Medication
    from medora.cds.drugs import DrugResolver
    from medora.models import Document

    symbyax = Document(id=1, source="openfda-labels", external_id="x", title="Symbyax", url=None, publisher=None,
                       year=None, doc_type="drug label", grade=None, license=None, version=1, status="active",
                       metadata={"brand_names": ["Symbyax"],
                                 "generic_names": ["OLANZAPINE AND FLUOXETINE HYDROCHLORIDE"]})

    def names_it(text: str) -> bool:
        return DrugResolver._names_all(symbyax, Medication(text, (text,)))

    assert not names_it("fluoxetine 20 mg capsule")
    assert names_it("Symbyax 6 mg/25 mg") and names_it("olanzapine / fluoxetine 6-25 mg")


def test_a_condition_inside_another_condition_name_is_not_a_mention():
    from medora.cds.context import conditions, resources

    (depression,) = conditions(resources(bundle({**condition("x", "1"), "code": {"text": "Depression"}}), "c"))
    assert not depression.named_in("ULTRAM is contraindicated in patients with significant respiratory depression.")
    assert depression.named_in("Use caution in patients with a history of depression or suicidal ideation.")
    assert depression.named_in("Respiratory depression and depression have been reported.")


def test_interactions_the_labels_only_describe_share_one_info_card(client):
    request = hook_call("patient-view", {}, {"medications": bundle(
        med_request("a", "active", "warfarin sodium 5 MG Oral Tablet"), med_request("b", "active", "Plavix 75 mg"),
        med_request("c", "active", "omeprazole 20 mg"))})
    cards = valid(client.post("/cds-services/medora-patient-view", json=request).json(), "response")["cards"]
    assert [c["indicator"] for c in cards] == ["warning", "info"]
    assert cards[1]["summary"] == "Labels describe 2 interactions: warfarin + clopidogrel, warfarin + omeprazole"
    assert "### warfarin + clopidogrel" in cards[1]["detail"] and "### warfarin + omeprazole" in cards[1]["detail"]
    passages = assert_quotes_are_exact(client, cards[1])
    assert {p["document"]["title"].split()[0] for p in passages.values()} >= {"Plavix", "Prilosec"}
