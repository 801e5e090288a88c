# Shared by the experiment scripts: run from the repository root, stop at the first failure,
# and pick the full or the quick variant.
#
#   QUICK=1   shorter runs (120 s of arrivals instead of 600) and fewer points: minutes, not an hour
#   SEED=K    the seed of every run (default 2; defaults were tuned on seed 1)
#   OUT=DIR   where result files go (default bench/results)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
SEED=${SEED:-2}
OUT=${OUT:-bench/results}
if [[ "${QUICK:-0}" == 1 ]]; then
  DURATION=${DURATION:-120}
  SUFFIX=-quick
else
  DURATION=${DURATION:-600}
  SUFFIX=
fi
mkdir -p "$OUT"
tandem() { npx tandem "$@"; }
