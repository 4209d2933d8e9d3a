#!/usr/bin/env bash
# Training on a Slurm cluster (one task per GPU).
# Usage: tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [args...]
#   WORK_DIR is taken as the 4th argument when it does not start with '-'.
# Env: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS (''),
#      PYTHON (the .venv of tools/install.sh if there, else python),
#      MASTER_PORT or PORT (20000 + SLURM_JOB_ID % 10000),
#      FAME_TOOL (train.py; tools/slurm_test.sh sets test.py).
set -euo pipefail

(( $# >= 3 )) || {
    echo "Usage: $0 PARTITION JOB_NAME CONFIG [WORK_DIR] [extra args]" >&2
    exit 2
}

PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
TOOL=${FAME_TOOL:-train.py}
WORK_DIR_ARGS=()
if [[ ${TOOL} == train.py && $# -gt 0 && $1 != -* ]]; then
    WORK_DIR_ARGS=(--work-dir "$1")
    shift
fi
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
# Do not ask for more tasks on a node than there are tasks in all.
if (( GPUS < GPUS_PER_NODE )); then
    GPUS_PER_NODE=${GPUS}
fi

TOOLS_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname -- "${TOOLS_DIR}")
export PYTHONPATH="${REPO_ROOT}${PYTHONPATH:+:${PYTHONPATH}}"
VENV=${REPO_ROOT}/.venv/bin/python
PYTHON=${PYTHON:-$([[ -x ${VENV} ]] && echo "${VENV}" || echo python)}

# MMEngine's slurm launcher takes MASTER_PORT, else 29500 for every job:
# two jobs whose first node is the same machine would collide. Use the
# user's MASTER_PORT or PORT, else one port per job from the job id, which
# srun sets in every task (and which is unknown here outside an allocation).
if [[ -z ${MASTER_PORT:-} && -n ${PORT:-} ]]; then
    export MASTER_PORT=${PORT}
fi
# shellcheck disable=SC2016
WITH_PORT='export MASTER_PORT=${MASTER_PORT:-$((20000 + SLURM_JOB_ID % 10000))}
exec "$@"'

set -x
# SRUN_ARGS is deliberately unquoted so that it can hold several options.
# shellcheck disable=SC2086
exec srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres="gpu:${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    bash -c "${WITH_PORT}" bash \
    "${PYTHON}" -u "${TOOLS_DIR}/${TOOL}" "${CONFIG}" --launcher slurm \
    ${WORK_DIR_ARGS[@]+"${WORK_DIR_ARGS[@]}"} "$@"
