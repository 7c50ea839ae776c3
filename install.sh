#!/usr/bin/env bash
# One-command setup: creates .venv, installs torch first (CPU wheel unless JWMSIM_TORCH_INDEX is set),
# then jwmsim with every dependency pinned by constraints.txt.
#   bash install.sh                 # CPU machine
#   JWMSIM_TORCH_INDEX=https://download.pytorch.org/whl/cu128 bash install.sh   # CUDA machine
#   JWMSIM_EXTRAS=dev,ray bash install.sh   # with ray (the --backend ray execution backend; about 9 s more)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
"$VPY" -m pip install --quiet --upgrade "pip>=24" wheel
# torch first and exactly pinned: a looser spec lets pip pull a newer torch with GBs of CUDA wheels.
if [ -n "${JWMSIM_TORCH_INDEX:-}" ]; then
  "$VPY" -m pip install --quiet "torch==2.13.0" --index-url "$JWMSIM_TORCH_INDEX"
else
  "$VPY" -m pip install --quiet "torch==2.13.0"
fi
"$VPY" -m pip install --quiet -c constraints.txt -e ".[${JWMSIM_EXTRAS:-dev}]"
"$VPY" -m pip check
# compile the numba kernels now (about 20 s, cached on disk) rather than in the first command
"$VPY" -m jwmsim.precompile
echo "jwmsim installed in $(pwd)/.venv  (activate with: source .venv/bin/activate)"
