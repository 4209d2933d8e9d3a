#!/usr/bin/env bash
# Distributed testing on one or more nodes with torchrun.
# Usage: tools/dist_test.sh CONFIG CHECKPOINT GPUS [extra args for test.py]
# Env: as tools/dist_train.sh, which runs tools/test.py here.
set -euo pipefail

(( $# >= 3 )) || {
    echo "Usage: $0 CONFIG CHECKPOINT GPUS [extra args for tools/test.py]" >&2
    exit 2
}
# CONFIG GPUS CHECKPOINT [extra args]: test.py takes the checkpoint after
# the launcher flag.
FAME_TOOL=test.py exec bash "$(dirname -- "${BASH_SOURCE[0]}")/dist_train.sh" \
    "$1" "$3" "$2" "${@:4}"
