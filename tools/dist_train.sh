#!/usr/bin/env bash
# Distributed training on one or more nodes with torchrun.
# Usage: tools/dist_train.sh CONFIG GPUS [extra args for tools/train.py]
# Env: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500),
#      PYTHON (the .venv of tools/install.sh if there, else python),
#      FAME_TOOL (train.py; tools/dist_test.sh sets test.py).
set -euo pipefail

(( $# >= 2 )) || {
    echo "Usage: $0 CONFIG GPUS [extra args for tools/train.py]" >&2
    exit 2
}
CONFIG=$1 GPUS=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PORT=${PORT:-29500}

TOOLS_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(dirname -- "${TOOLS_DIR}")
export PYTHONPATH="${REPO_ROOT}${PYTHONPATH:+:${PYTHONPATH}}"
VENV=${REPO_ROOT}/.venv/bin/python
PYTHON=${PYTHON:-$([[ -x ${VENV} ]] && echo "${VENV}" || echo python)}

set -x
exec "${PYTHON}" -m torch.distributed.run \
    --nnodes="${NNODES}" \
    --node_rank="${NODE_RANK}" \
    --master_addr="${MASTER_ADDR}" \
    --master_port="${PORT}" \
    --nproc_per_node="${GPUS}" \
    "${TOOLS_DIR}/${FAME_TOOL:-train.py}" "${CONFIG}" --launcher pytorch "$@"
