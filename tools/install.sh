#!/usr/bin/env bash
# Install FAME for MMAction2 into a virtual environment (default: ./.venv).
# Usage: bash tools/install.sh [VENV_DIR]
# To use an environment of your own instead: pip install -r
# requirements/runtime.txt (after installing torch).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-${root}/.venv}"
[[ -x "${venv}/bin/python" ]] || python3 -m venv "${venv}"
python="${venv}/bin/python"

pip_install() { "${python}" -m pip install --quiet --disable-pip-version-check "$@"; }

# Keep a torch that is already there (e.g. a CUDA build); else the CPU build.
if ! "${python}" -c 'import torch' 2>/dev/null; then
    pip_install torch==2.13.0
fi
pip_install -r "${root}/requirements/runtime.txt" -r "${root}/requirements/tests.txt"
"${python}" - <<'PY'
import mmaction, mmengine, torch
print(f'FAME stack ready: torch {torch.__version__}, mmengine '
      f'{mmengine.__version__}, mmaction2 {mmaction.__version__}')
PY
