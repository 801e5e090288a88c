#!/usr/bin/env bash
# Issue 15, item 6: llm-d's "KV-cache wins" ladder as llm-d ran it: one run per scheduler whose
# Poisson rate steps through inference-perf's stages (warm-up 15 req/s x 50 s, then 3 -> 60 req/s,
# 20-38 s each; 502 s of arrivals, about 17,600 requests), 8 x Qwen3-32B on 2 x H100. Four
# schedulers, as llm-d compared: kv with the precise index, kv with the approximate index, a
# load-only policy (least-loaded) and random. `npx tandem bench report` then puts the four rows
# beside llm-d's published table with the ratios (bench/report/published.ts).
# About 10-20 min of CPU in all; two runs at a time.
source "$(dirname "$0")/common.sh"
STAGES=15x50,3x20,10x20,15x20,20x38,22x34,25x30,30x25,35x21,40x38,43x36,46x33,49x30,52x29,55x27,57x26,60x25
EXPERIMENT=llmd-ladder
TITLE="llm-d's ladder (3 -> 60 req/s): kv precise and approximate, least-loaded and random, beside llm-d's table"
DESCRIPTION="8 simulated workers, Qwen3-32B on 2 x H100 each, workload llmd-shared-prefix with the stages llm-d's inference-perf ran (warm-up 15 req/s x 50 s, then 3, 10, 15, 20, 22, 25, 30, 35, 40, 43, 46, 49, 52, 55, 57, 60 req/s for 20-38 s each). One run per scheduler, the front door's defaults (past the fleet's capacity the door refuses with 429/503 rather than queueing without bound; failed requests are counted, llm-d's vLLM queues held them). The wait queue is the mean of each worker's waiting requests over status polls while requests arrive, as llm-d averaged vLLM's num_requests_waiting."
FLEET=(--workload llmd-shared-prefix -p "stages=$STAGES" --workers 8 --gpu h100-sxm --model qwen3-32b --tp 2 --duration 502 --seed "$SEED")
run() { while (( $(jobs -r | wc -l) >= 2 )); do wait -n; done; tandem simulate "${FLEET[@]}" --experiment "$EXPERIMENT" --title "$TITLE" --description "$DESCRIPTION" "$@" & }
run --policy kv --index precise --label "kv, precise index" --out "$OUT/$EXPERIMENT-kv-precise.json"
run --policy kv --index approximate --label "kv, approximate index" --out "$OUT/$EXPERIMENT-kv-approximate.json"
run --policy least-loaded --label least-loaded --out "$OUT/$EXPERIMENT-least-loaded.json"
run --policy random --label random --out "$OUT/$EXPERIMENT-random.json"
wait
