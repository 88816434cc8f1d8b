#!/bin/bash
# Continue the shipped training state on a lent GPU (Keras' JAX backend):
# step 1 trains at the peak rate for 45 s and measures the speed; step 2 is one
# cosine from there, sized to the time left. With the wheels in .whl/
# (docs/training.md) and the device tool's $OUT it ran run E's steps 4 and 5
# (session 11: `BATCH=128 LR=5e-4 bash docs/gpu_session.sh SECONDS`) and run F's
# steps 7-10 (session 14: LR=3e-4 with 570 s, then LR=1e-4 with 280 s after
# copying $OUT/convlstm-state.keras into checkpoints/training/) and run G's
# steps 11-14 (session 15, the same two calls).
#
# One cosine over both calls instead (session 15's plan for the next session,
# not yet measured): with SPEED (sequences/s) known, step 1 is skipped; the
# first call plans the cosine over DECAY_SEQUENCES and prints its start, and
# the second call continues it, given the same LR, DECAY_START, SPEED and
# DECAY_SEQUENCES.
#
# A new model instead: MODEL holds its flags; later calls continue it with
# FROM set to where its state was copied. Session 27 started run H, the
# shipped 3 x 64 with layer normalisation, so (`BATCH=128 LR=1e-3
# MODEL="--layers 3 --filters 64 --layer-norm" bash docs/gpu_session.sh 570`),
# then continued it with `BATCH=128 LR=2e-4 SPEED=4000
# FROM=.gpustate/ln-state.keras bash docs/gpu_session.sh 240`, the first
# call's state copied to a git-ignored folder carried along. Its state is the
# committed one now, which a plain call continues.
set -u
T0=$(date +%s)
TOTAL=${1:-540}
BATCH=${BATCH:-128}; LR=${LR:-5e-4}; WORKERS=${WORKERS:-12}
MODEL=${MODEL:-}; FROM=${FROM:-checkpoints/training/convlstm-state.keras}
SPEED=${SPEED:-}; DECAY_START=${DECAY_START:-}; DECAY_SEQUENCES=${DECAY_SEQUENCES:-}
if [ -n "$DECAY_START" ] && [ -z "$DECAY_SEQUENCES" ]; then
    echo "DECAY_START continues a cosine: give its DECAY_SEQUENCES too" >&2; exit 2
fi
if [ -n "$DECAY_START" ] && [ -z "$SPEED" ]; then  # step 1 would train at the peak rate mid-cosine
    echo "DECAY_START continues a cosine: give SPEED, the speed the first call printed" >&2; exit 2
fi
LOG=$OUT/gpu.log
exec > >(tee -a "$LOG") 2>&1
python -V; nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader; nproc
python -m pip install -q --no-deps --no-index .whl/keras-*.whl .whl/namex-*.whl .whl/optree-*.whl .whl/mlxtend-*.whl .whl/tqdm-*.whl 2>&1 | grep -v root
for m in h5py:h5py rich:rich absl:absl_py markdown_it:markdown_it_py mdurl:mdurl pygments:pygments ml_dtypes:ml_dtypes; do
    python -c "import ${m%%:*}" 2>/dev/null || python -m pip install -q --no-deps --no-index .whl/${m##*:}-*.whl 2>&1 | grep -v root
done
export KERAS_BACKEND=jax TF_CPP_MIN_LOG_LEVEL=3
STATE=$OUT/convlstm-state.keras
[ -n "$MODEL" ] || cp "$FROM" "$STATE"
echo "setup took $(( $(date +%s) - T0 )) s"
if [ -z "$SPEED" ]; then
    python -m core train --out "$STATE" --resume $MODEL --batch-size $BATCH --workers $WORKERS --lr $LR --minutes 0.75 \
        --epochs 100000 --epoch-sequences 100000000 --sampling-sequences 20000 --json 2>$OUT/step1.err | tee $OUT/step1.json
    tail -3 $OUT/step1.err
    read SEEN SPEED < <(python -c "import json,sys; r=json.loads(open('$OUT/step1.json').read().strip().splitlines()[-1]); print(r['sequences_seen'], r['sequences_per_second'])")
elif [ -n "$MODEL" ]; then
    SEEN=0
else
    SEEN=$(python -c "import json, sys, zipfile; print(json.loads(zipfile.ZipFile(sys.argv[1]).read('studio.json'))['info']['sequences_seen'])" "$STATE")
fi
LEFT=$(( TOTAL - ($(date +%s) - T0) - 50 ))
DECAY=${DECAY_SEQUENCES:-$(python -c "print(int(0.85 * $SPEED * $LEFT))")}
START=${DECAY_START:-$SEEN}
EPOCH=$(python -c "print(int($SPEED * 60) // $BATCH * $BATCH)")
MIN=$(python -c "print(round($LEFT / 60, 2))")
echo "starting at $SEEN sequences, $SPEED seq/s; step 2: $MIN min, cosine over $DECAY from $START, epochs of $EPOCH"
python -m core train --out "$STATE" --resume $MODEL --batch-size $BATCH --workers $WORKERS --lr $LR --minutes $MIN \
    --epochs 100000 --epoch-sequences $EPOCH --lr-decay-start $START --lr-decay-sequences $DECAY \
    --sampling-sequences 20000 --json 2>$OUT/step2.err | tee $OUT/step2.json
tr '\r' '\n' < $OUT/step2.err | grep -o "seen=[0-9]* seq/s=[0-9.]* val_mse=[0-9.a-z]*" | awk -F'val_mse=' '$2!=last{print; last=$2}'
echo "total $(( $(date +%s) - T0 )) s"
