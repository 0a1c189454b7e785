#!/usr/bin/env bash
# Where the GPU time goes, for the cases nearest their targets (run on the
# GPU machine; bench/gpu-check.sh is the check itself). Run there after
# `source .device/setup.sh` (bench/gpu-prepare.sh), with the addon built:
#   bash bench/gpu/profile.sh
# Prints bench/gpu/profile.mjs's per-module breakdown and its primitive
# timings next to PyTorch's kernels (prims), then, when Nsight
# Systems is on the machine, its kernel and API summaries of each listed case
# (ours, and PyTorch's torch_ref.py for the same case). Output under $OUT.
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/bench/results/gpu-profile}
mkdir -p "$OUT"
t0=$(date +%s)
timeout 150 node bench/gpu/profile.mjs breakdown 2>&1 | tee "$OUT/breakdown.txt"
timeout 150 node bench/gpu/profile.mjs prims 2>&1 | tee -a "$OUT/breakdown.txt"
NSYS=$(command -v nsys || ls /usr/local/cuda*/bin/nsys /opt/nvidia/nsight-systems*/*/bin/nsys /opt/nvidia/nsight-systems*/bin/nsys 2>/dev/null | head -1)
if [ -z "$NSYS" ]; then echo "no nsys on this machine"; exit 0; fi
echo "nsys: $NSYS ($("$NSYS" --version 2>&1 | head -1)) [$(( $(date +%s) - t0 ))s]"
CASES=${ORTHO_PROFILE_CASES:-"cholesky forward 4096x32x32|default backward 4096x32x32|qr forward 1x4096x4096|default backward 64x256x256"}
IFS='|' read -ra list <<< "$CASES"
: > "$OUT/nsys.txt"
for c in "${list[@]}"; do
  read -r preset kind dims <<< "$c"
  shape="[${dims//x/,}]"
  reps=20; [ "${dims%%x*}" = 1 ] && reps=4
  for who in ours torch; do
    rep=/tmp/prof-$who
    if [ $who = ours ]; then
      timeout 60 "$NSYS" profile -t cuda -o $rep --force-overwrite true node bench/gpu/profile.mjs case "$c" $reps > /tmp/prof.log 2>&1
    else
      echo "[{\"id\":\"$c\",\"preset\":\"$preset\",\"kind\":\"$kind\",\"shape\":$shape,\"warmup\":3,\"minReps\":$reps,\"budget\":0}]" > /tmp/case.json
      timeout 90 "$NSYS" profile -t cuda -o $rep --force-overwrite true python3 bench/gpu/torch_ref.py < /tmp/case.json > /tmp/prof.log 2>&1
    fi
    {
      echo "===== $who: $c (rc $?; $(grep -E 'median|"ms"' /tmp/prof.log | tail -1 | cut -c1-200))"
      "$NSYS" stats -q -r cuda_gpu_kern_sum,cuda_api_sum $rep.nsys-rep 2>&1 | grep -v '^\s*$' | cut -c1-220 | head -60
    } >> "$OUT/nsys.txt"
    echo "$who $c done [$(( $(date +%s) - t0 ))s]"
  done
done
