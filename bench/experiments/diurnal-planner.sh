#!/usr/bin/env bash
# Claim 4: on diurnal, the planner (sizing the prefill and decode pools and the threshold every
# 30 s, new workers routable 60 s after they start) against fixed P:D splits: SLO attainment
# (TTFT <= 1 s and TPOT <= 50 ms) and GPU-hours. Qwen3-8B on H100, at most 8 workers.
# Full: two simulated days of 600 s (about 20 min of CPU); QUICK=1: one day, fewer splits.
# SPLITS=" " (a blank list) runs the planner alone, e.g. after a planner change: the fixed
# splits do not involve the planner. TANDEM_PLANNER__SLO__TTFT_QUANTILE=q tries another quantile.
source "$(dirname "$0")/common.sh"
if [[ "${QUICK:-0}" == 1 ]]; then DAYS_S=${DAYS_S:-600}; SPLITS=${SPLITS:-"1:3 2:4 2:6"}; else DAYS_S=${DAYS_S:-1200}; SPLITS=${SPLITS:-"1:3 2:2 2:3 2:4 2:5 3:2 3:3 3:4"}; fi
EXPERIMENT=diurnal-planner$SUFFIX
TITLE="The planner on a diurnal load against fixed P:D splits"
DESCRIPTION="Workload diurnal (mean 10 req/s swinging +-60% over a 600 s day; chat prompts 256-2,048 tokens with 128-768 output at the peak, more 6k-16k-token document prompts with short output in the trough), Qwen3-8B on H100, disaggregation auto. Planner: starts at 1 prefill + 2 decode workers, at most 8, decides every 30 s, new workers routable after 60 s and paid for from their start; its threshold replaces the config's. Fixed splits: P prefill + D decode workers throughout, threshold 1024 tokens. Claim checked: the planner meets the SLO for >= 99% of requests with fewer GPU-hours (setup gpu_hours) than the best fixed split that also meets it."
COMMON=(--workload diurnal --policy kv --gpu h100-sxm --model qwen3-8b --qps 10 --duration "$DAYS_S" --seed "$SEED" --disaggregation auto --experiment "$EXPERIMENT" --title "$TITLE" --description "$DESCRIPTION")
tandem simulate "${COMMON[@]}" --workers 8 --prefill-workers 1 --decode-workers 2 --planner on --label planner --out "$OUT/$EXPERIMENT-planner.json" &
for split in $SPLITS; do
  P=${split%%:*}; D=${split##*:}
  # Two runs at a time on two cores.
  while (( $(jobs -r | wc -l) >= 2 )); do wait -n; done
  tandem simulate "${COMMON[@]}" --workers $((P + D)) --prefill-workers "$P" --label "fixed ${P}P:${D}D" --out "$OUT/$EXPERIMENT-fixed-${P}p${D}d.json" &
done
wait
