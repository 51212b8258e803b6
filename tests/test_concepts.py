"""The concept index (library/concepts.py, retrieve/concepts.py) on real labels, MedQuAD and USPSTF files,
on SQLite and on PostgreSQL: built at ingestion, kept in step when a document changes or is retired,
rebuilt from scratch, resolving brands, misspellings and synonyms, the CLI, and an answer's searched_as."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import pytest
from conftest import run_cli

from medora.library.concepts import concepts_of, condition_title, drug_concept, drug_concepts, normalize_name
from medora.library.ingest import Ingestor
from medora.library.open import open_store
from medora.models import Source
from medora.retrieve.concepts import common_words, resolve_concepts
from medora.sources.readers.registry import detect_reader

pytest_plugins = ("pg_fixtures",)

MEDQUAD_DOCS = 40  # XML files of MedQuAD's GARD folder (diseases with UMLS synonyms)


@pytest.fixture(scope="module")
def files(tmp_path_factory, shared_sources) -> dict[str, Path]:
    """Small real inputs: the five SPL labels (copied, so a test may change one), the USPSTF file and
    the first MedQuAD GARD documents, read from the shared tarball at test time."""
    root = tmp_path_factory.mktemp("concept-inputs")
    labels = root / "labels"
    shutil.copytree(shared_sources / "dailymed-spl", labels, ignore=shutil.ignore_patterns("*.txt"))
    medquad = root / "medquad"
    medquad.mkdir()
    with tarfile.open(next((shared_sources / "medquad").glob("*.tar.gz"))) as tar:
        taken = 0
        for member in tar:
            if member.isfile() and member.name.startswith("2_GARD_QA/") and member.name.endswith(".xml"):
                (medquad / Path(member.name).name).write_bytes(tar.extractfile(member).read())
                taken += 1
                if taken == MEDQUAD_DOCS:
                    break
    return {"labels": labels, "medquad": medquad, "uspstf": next((shared_sources / "uspstf").glob("*.json"))}


def ingest(store, name: str, path: Path, *, prune: bool = False):
    inputs = sorted(path.iterdir()) if path.is_dir() else [path]
    return Ingestor(store, Source(name=name)).run(((p, detect_reader(p)) for p in inputs), prune=prune)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path, files):
    target = str(tmp_path / "library.db") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    s = open_store(target, create=True)
    for name in ("labels", "medquad", "uspstf"):
        ingest(s, name, files[name])
    yield s
    s.close()


def by_preferred(matches):
    return {m.preferred: m for m in matches}


def dangling_links(store) -> int:
    """Links or names that point at a retired document (there must be none)."""
    query = ("SELECT (SELECT COUNT(*) FROM concept_documents l JOIN documents d ON d.id = l.document_id"
             " WHERE d.status <> 'active') + (SELECT COUNT(*) FROM concept_names n JOIN documents d"
             " ON d.id = n.document_id WHERE d.status <> 'active')")
    db = getattr(store, "db", None) or store.conn
    return db.execute(query).fetchone()[0]


# ---------------------------------------------------------------- names from metadata


def test_label_names_merge_on_the_ingredient_and_topic_titles_lose_the_service():
    one = drug_concept({"brand_names": ["Coumadin"], "generic_names": ["Warfarin Sodium"],
                        "substance_names": ["WARFARIN SODIUM"]})
    other = drug_concept({"brand_names": ["Jantoven"], "generic_names": ["warfarin"]})
    assert one.key == other.key == "warfarin" and one.preferred == "warfarin"
    assert {("coumadin", "brand"), ("warfarin sodium", "substance")} <= {(n, k) for _, n, k in one.name_rows()}
    combo = drug_concept({"generic_names": ["Diphenhydramine HCl, Phenylephrine HCl"],
                          "substance_names": ["DIPHENHYDRAMINE HYDROCHLORIDE", "PHENYLEPHRINE HYDROCHLORIDE"]})
    assert combo.preferred == "diphenhydramine and phenylephrine"
    assert "substance" not in {k for _, _, k in combo.name_rows()}  # a combination is not each ingredient...
    assert [c.preferred for c in drug_concepts({"generic_names": ["AMOXICILLIN AND CLAVULANATE POTASSIUM"],
                                                "substance_names": ["AMOXICILLIN", "CLAVULANATE POTASSIUM"]})] == \
        ["amoxicillin and clavulanate", "amoxicillin", "clavulanate"]  # ...but its label is about each of them
    assert drug_concept({"brand_names": ["Nameless"]}) is None  # a label without an ingredient names no drug
    assert condition_title("Hepatitis B Virus Infection in Adolescents and Adults: Screening") == \
        "Hepatitis B Virus Infection"
    assert condition_title("Prevention of Dental Caries in Children Younger Than 5 Years: Screening") == \
        "Dental Caries"
    assert normalize_name("Crohn's Diseases!") == normalize_name("crohn disease")
    assert concepts_of("Some article", "article", {}) == []
    assert [c.preferred for c in concepts_of("Gout", "patient information", {})] == ["Gout"]  # MedlinePlus


# ---------------------------------------------------------------- built at ingestion, on both backends


def test_built_at_ingestion_and_resolving_brands_misspellings_and_synonyms(store, files):
    counts = store.concept_counts()
    assert counts["concepts"] > MEDQUAD_DOCS // 2 and counts["links"] >= counts["concepts"]
    labels = {d.metadata["set_id"]: d for d in store.documents(range(1, 400)).values() if d.doc_type == "drug label"}
    assert len(labels) == 5

    found = by_preferred(resolve_concepts(store, "Is Lipitor safe with HUMIRA?"))
    assert found["atorvastatin"].name_kind == "brand" and found["atorvastatin"].matched_text == "Lipitor"
    assert found["adalimumab"].kind == "drug" and len(found["adalimumab"].doc_ids) == 1
    doc = store.documents(list(found["atorvastatin"].doc_ids))
    assert next(iter(doc.values())).title.startswith("LIPITOR")

    misspelt = resolve_concepts(store, "what does atorvastatine and sildenafill do")
    assert {m.preferred for m in misspelt} == {"atorvastatin", "sildenafil"} and all(m.fuzzy for m in misspelt)
    assert all(0.9 <= m.score < 1 for m in misspelt)
    assert resolve_concepts(store, "What is the meaning of attention and practice?") == []  # English words

    # a MedQuAD synonym resolves to its focus; the span and text are the question's own
    preferred = {r[3] for r in store.concept_names() if r[5] == "preferred"}
    common = common_words()  # synonyms made only of everyday words are left out of the index on purpose
    doc, synonym = next((d, s) for d in store.documents(range(1, 400)).values() if d.source == "medquad"
                        for s in d.metadata["synonyms"] if len(normalize_name(s)) > 8
                        and len(s.split()) <= 6 and normalize_name(s) not in preferred
                        and not all(w in common for w in normalize_name(s).split()))
    question = f"What causes {synonym.upper()}?"
    match = next(m for m in resolve_concepts(store, question) if doc.id in m.doc_ids)
    assert question[match.span[0]:match.span[1]] == match.matched_text == synonym.upper()

    colorectal = by_preferred(resolve_concepts(store, "screening for colorectal cancers"))["Colorectal Cancer"]
    titles = [d.title for d in store.documents(list(colorectal.doc_ids)).values()]
    assert len(titles) >= 2 and any(t.startswith("Colorectal Cancer: Screening") for t in titles)


def test_a_changed_or_retired_document_keeps_its_links_in_step(store, files, tmp_path):
    labels = tmp_path / "labels"
    shutil.copytree(files["labels"], labels)
    lipitor = labels / "lipitor-orig.xml"
    lipitor.write_text(lipitor.read_text(encoding="utf-8").replace("Lipitor", "Atorvax").replace("LIPITOR", "ATORVAX"),
                       encoding="utf-8")
    before = store.concepts_version()
    store.put_embeddings("test-model", 2, [("0" * 64, bytes(4))])  # vectors do not touch the concept index...
    assert store.concepts_version() == before
    report = ingest(store, "labels", labels)  # ...a changed document does
    assert report.updated == 1
    assert store.concepts_version() != before
    found = by_preferred(resolve_concepts(store, "atorvax dose"))
    assert found["atorvastatin"].name == "Atorvax"  # the new brand, and the concept kept its id and document
    assert not any(m.preferred == "atorvastatin" for m in resolve_concepts(store, "Lipitor dose", fuzzy=False))

    lipitor.unlink()
    report = ingest(store, "labels", labels, prune=True)
    assert report.retired == 1
    assert not any(m.preferred == "atorvastatin" for m in resolve_concepts(store, "atorvastatin atorvax"))
    assert dangling_links(store) == 0
    assert "adalimumab" in by_preferred(resolve_concepts(store, "Humira"))  # the other labels are untouched

    incremental = sorted(store.concept_names(), key=lambda r: (r[2], r[3], r[5]))
    assert store.rebuild_concepts() == store.concept_counts()
    rebuilt = sorted(store.concept_names(), key=lambda r: (r[2], r[3], r[5]))
    assert [r[1:] for r in rebuilt] == [r[1:] for r in incremental]  # the same index, made from scratch


# ---------------------------------------------------------------- CLI and answers (SQLite)


@pytest.fixture(scope="module")
def library(tmp_path_factory, files) -> Path:
    path = tmp_path_factory.mktemp("concept-lib") / "library.db"
    with open_store(str(path), create=True) as s:
        ingest(s, "labels", files["labels"])
        ingest(s, "uspstf", files["uspstf"])
    return path


def test_cli_lists_concepts_with_their_documents(library):
    out = json.loads(run_cli("library", "concepts", "Can I take lipitorr for colorectal cancer?",
                             "--library", str(library), "--format", "json").stdout)
    found = {c["preferred"]: c for c in out["concepts"]}
    assert found["atorvastatin"]["fuzzy"] and found["atorvastatin"]["name"] == "Lipitor"
    assert found["atorvastatin"]["documents"][0]["doc_type"] == "drug label"
    assert found["atorvastatin"]["documents"][0]["title"].startswith("LIPITOR")
    assert found["Colorectal Cancer"]["kind"] == "condition"
    text = run_cli("library", "concepts", "Humira", "--library", str(library)).stdout
    assert "adalimumab (drug" in text and "HUMIRA (adalimumab)" in text
    rebuilt = json.loads(run_cli("library", "concepts", "--rebuild", "--library", str(library),
                                 "--format", "json").stdout)["rebuilt"]
    assert rebuilt["concepts"] > 50 and rebuilt["links"] > rebuilt["concepts"]
    bad = run_cli("library", "concepts", "--library", str(library), check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "QUERY" in bad.stderr
    assert "Examples:" in run_cli("library", "concepts", "--help").stdout


def test_an_answer_searches_a_misspelt_brand_by_its_generic_name(library):
    from medora.answer.compose import answer_question
    from medora.settings import Settings

    with open_store(str(library), create=False) as s:
        answer = answer_question(s, "What is the dose of lipitorr?",
                                 Settings(library=str(library), retrieval="lexical"))
        plain = answer_question(s, "What is the dose of lipitorr?",
                                Settings(library=str(library), retrieval="lexical", question_steps="chatter"))
    assert answer.searched_as.concepts == {"lipitorr": "atorvastatin"}
    assert "Lipitor (atorvastatin)" in answer.searched_as.text
    assert any("lipitorr → atorvastatin" in n for n in answer.notices)
    assert answer.references and answer.references[0].title.startswith("LIPITOR")
    assert not plain.searched_as.concepts


def test_a_library_migrated_to_postgresql_gets_the_same_concept_index(library, pg_url):
    from medora.library.migrate import migrate

    migrate(library, pg_url)
    with open_store(str(library), create=False) as sqlite, open_store(pg_url, create=False) as pg:
        assert pg.concept_counts() == sqlite.concept_counts()
        names = lambda s: sorted(r[1:] for r in s.concept_names())  # noqa: E731 (ids may differ)
        assert names(pg) == names(sqlite)
        assert {m.preferred for m in resolve_concepts(pg, "lipitorr")} == {"atorvastatin"}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_library_from_before_the_index_gets_it_when_opened(backend, files, tmp_path, request):
    target = str(tmp_path / "old.db") if backend == "sqlite" else request.getfixturevalue("pg_url")
    with open_store(target, create=True) as s:
        ingest(s, "labels", files["labels"])
        expected = s.concept_counts()
        db = getattr(s, "db", None) or s.conn
        # back to the schema before the concept index (what a library ingested by an older Medora holds)
        for statement in ("DROP TABLE concept_names", "DROP TABLE concept_documents", "DROP TABLE concepts",
                          *(("ALTER TABLE library_changes DROP COLUMN concepts",
                             "DELETE FROM schema_migrations WHERE version = 9") if backend == "sqlite" else
                            ("DROP SEQUENCE concept_generation", "DELETE FROM schema_migrations WHERE version = 6"))):
            db.execute(statement)
    with open_store(target, create=False) as s:
        assert s.concept_counts() == expected and expected["concepts"] >= 5
        assert {m.preferred for m in resolve_concepts(s, "Humira")} == {"adalimumab"}
