#!/usr/bin/env bash
# Claims 1 and 2: llm-d's "KV-cache wins" benchmark on 8 workers (Qwen3-32B on 2 x H100 each).
# kv (precise index) against kv (approximate index), random and round-robin over a rate ladder;
# the kv runs also give the hit rate against the workload's bound and the load imbalance.
# Full: 600 s of arrivals per point, 4 rates (about 25 min of CPU); QUICK=1: 120 s, 4 points.
source "$(dirname "$0")/common.sh"
if [[ "${QUICK:-0}" == 1 ]]; then QPS=${QPS:-3,6,9,15}; else QPS=${QPS:-3,6,9,12}; fi
# The runs without queued-prefill reports only explain a detail: by default at the rates around
# saturation alone.
NOQUEUE_QPS=${NOQUEUE_QPS:-9,12,15}
EXPERIMENT=llmd-kv-cache-wins$SUFFIX
TITLE="llm-d's KV-cache benchmark: kv routing against random and round-robin, precise against approximate"
DESCRIPTION="8 simulated workers, Qwen3-32B on 2 x H100 each (the fleet llm-d measured), workload llmd-shared-prefix (150 groups x 5 users, 6,000-token system prompt + 1,200-token question, 1,000 output tokens, Poisson arrivals). Claims checked: at the rate where round-robin saturates, kv gives >= 2x the output tokens/s of random and round-robin and a >= 50x lower TTFT p90; precise beats approximate; kv's hit rate is within 5 points of the bound with load imbalance under 1.3. See bench/README.md for the verdicts."
FLEET=(--workload llmd-shared-prefix --workers 8 --gpu h100-sxm --model qwen3-32b --tp 2 --duration "$DURATION" --seed "$SEED")
# Two runs at a time (two cores). The kv runs twice more with status reports that leave out the
# engine's queued prefill tokens (as vLLM servers' metrics do), which bench/README.md explains.
run() { while (( $(jobs -r | wc -l) >= 2 )); do wait -n; done; tandem simulate "${FLEET[@]}" --experiment "$EXPERIMENT" --title "$TITLE" --description "$DESCRIPTION" "$@" & }
run --qps "$QPS" --policy kv --index precise,approximate --out "$OUT/$EXPERIMENT-kv.json" --csv "$OUT/$EXPERIMENT-kv.csv"
run --qps "$QPS" --policy random,round-robin --out "$OUT/$EXPERIMENT-baselines.json" --csv "$OUT/$EXPERIMENT-baselines.csv"
run --qps "$NOQUEUE_QPS" --policy kv --index precise --status-queued-prefill off --label "precise, no queued-prefill reports" --out "$OUT/$EXPERIMENT-kv-precise-noqueue.json" --csv "$OUT/$EXPERIMENT-kv-precise-noqueue.csv"
run --qps "$NOQUEUE_QPS" --policy kv --index approximate --status-queued-prefill off --label "approximate, no queued-prefill reports" --out "$OUT/$EXPERIMENT-kv-approximate-noqueue.json" --csv "$OUT/$EXPERIMENT-kv-approximate-noqueue.csv"
wait
