#!/usr/bin/env bash
# Testing on a Slurm cluster (one task per GPU).
# Usage: tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [args...]
# Env: as tools/slurm_train.sh, which runs tools/test.py here.
set -euo pipefail

(( $# >= 4 )) || {
    echo "Usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [extra args]" >&2
    exit 2
}
FAME_TOOL=test.py exec bash "$(dirname -- "${BASH_SOURCE[0]}")/slurm_train.sh" \
    "$@"
