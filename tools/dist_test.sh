#!/usr/bin/env bash
# Distributed testing on one or more nodes with torchrun.
# Usage: tools/dist_test.sh CONFIG CHECKPOINT GPUS [extra args for test.py]
# Env: as tools/dist_train.sh, which runs tools/test.py here.
set -euo pipefail

if [[ $# -lt 3 ]]; then
    echo "Usage: $0 CONFIG CHECKPOINT GPUS [extra args for tools/test.py]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
FAME_TOOL=test.py exec bash "$(dirname -- "${BASH_SOURCE[0]}")/dist_train.sh" \
    "${CONFIG}" "${GPUS}" "${CHECKPOINT}" "$@"
