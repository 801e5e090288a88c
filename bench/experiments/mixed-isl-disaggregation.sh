#!/usr/bin/env bash
# Claim 3: on mixed-isl, conditional (auto) disaggregation against never and always at the same
# GPU count (8 workers, Qwen3-32B on 2 x H100), goodput under the default SLO (TTFT 1 s, TPOT
# 50 ms); each run is also reported per request class (short / long prompts), for the claim that
# on short prompts auto is never worse than never. always runs at 3, 4 and 5 prefill workers so that
# each auto split has its always twin (issue 15: auto >= the better of never and always at the same
# split, minus 1%); run it with SEED=2, 31, 3 for the three seeds of bench/README.md claim 3.
# Full: 600 s per point 3 rates (about 40 min of CPU); QUICK=1: 120 s, 2 rates.
source "$(dirname "$0")/common.sh"
if [[ "${QUICK:-0}" == 1 ]]; then QPS=${QPS:-8,14}; else QPS=${QPS:-6,10,14}; fi
EXPERIMENT=mixed-isl-disaggregation$SUFFIX
TITLE="Conditional disaggregation on mixed-isl: auto against never and always at 8 workers"
DESCRIPTION="8 simulated workers, Qwen3-32B on 2 x H100 each; mixed-isl (20% long prompts of 8k-24k tokens, the rest 64-1,024; 64-512 output tokens). never: 8 aggregated workers; auto and always: P prefill + (8 - P) decode workers, KV pulled over 400G InfiniBand. Goodput counts requests meeting TTFT <= 1 s and TPOT <= 50 ms. Rows marked short / long requests are the same runs restricted to one request class."
FLEET=(--workload mixed-isl --policy kv --workers 8 --gpu h100-sxm --model qwen3-32b --tp 2 --qps "$QPS" --duration "$DURATION" --seed "$SEED" --by-class --experiment "$EXPERIMENT" --title "$TITLE" --description "$DESCRIPTION")
tandem simulate "${FLEET[@]}" --disaggregation never,auto --prefill-workers 3,4 --out "$OUT/$EXPERIMENT-never-auto.json" --csv "$OUT/$EXPERIMENT-never-auto.csv" &
tandem simulate "${FLEET[@]}" --disaggregation always --prefill-workers 3,4,5 --out "$OUT/$EXPERIMENT-always.json" --csv "$OUT/$EXPERIMENT-always.csv" &
wait
