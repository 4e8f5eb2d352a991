#!/usr/bin/env bash
# Retrain the bundled demo model t2mgpt-cmu-demo from the CMU data, as it was made.
#
#   bash scripts/train_demo_model.sh [CMU_SRC] [WORK_DIR]
#
# CMU_SRC: the cmu_ml folder (default ../shared/data/cmu_ml); WORK_DIR: where prepared data,
# runs and evaluation results go (default work/demo, ignored by git). Every step resumes or
# skips finished work when re-run. Times on 2 CPU cores: prepare ~6 min (twice), evaluator
# ~7 min, VQ-VAE ~70 min (1 thread), decoder fine-tune ~45 min, GPT ~95 min, GPT fine-tune
# ~30 min, VQ-VAE continued ~35 min, GPT on its codes ~40 min, version 4 ~15 min, critic ~8 min,
# evaluation ~90 min. On a GPU pass
# DEVICE=cuda.
#
# The bundled model is version 4 (session 6):
#   1. VQ-VAE + GPT on the human captions (DATA): version 1 (session 2);
#   2. the VQ-VAE decoder fine-tuned to read at most 4 codes ahead (encoder and codebook frozen,
#      so every motion keeps its codes; streaming starts after 5 codes, docs/streaming.md);
#   3. the v1 GPT fine-tuned on DATA_AUTO = the same clips with the kinematic labeller's
#      time-aligned captions added (`prepare --auto-captions`, docs/data.md), 15% of samples
#      without text (for classifier-free guidance), 20% of samples from time-span captions
#      (configs/demo_gpt_cmu_finetune.json); exported with guidance scale 2 as its default;
#   4. the whole VQ-VAE of step 2 (look-ahead kept) trained 5,000 + 8,000 updates more with a
#      joint-position loss weight of 1.0 instead of 0.5, so that kicks and raised arms survive
#      its codes; every motion's codes change, so the version-2 GPT is trained on the new codes
#      (configs/demo_gpt_cmu_v3.json, then configs/demo_gpt_cmu_finetune.json): version 3;
#   5. the fine-tune of step 4 again, from the same stage-1 GPT, with the `minilm-sides` text
#      features (MiniLM with each caption moved away from its left/right swap), exported with
#      guidance scale 3 as its default: version 4 (session 6);
#   6. version 4's weights with best-of-8 sampling by default: a critic (`train-evaluator` on
#      DATA_AUTO, 6 epochs) kept in the model folder scores 8 candidates per motion together with
#      the GPT's own text evidence (t2mgpt.rerank): version 5 (session 8), the bundled model.
# docs/prompt_suite.md has the experiments behind these choices.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${1:-../shared/data/cmu_ml}
WORK=${2:-work/demo}
DEVICE=${DEVICE:-cpu}
T=.venv/bin/t2mgpt
[ -x "$T" ] || bash scripts/setup.sh
DATA=$WORK/cmu_hml EV=$WORK/cmu_evaluator VQ=$WORK/vq VQ2=$WORK/vq_lookahead GPT1=$WORK/gpt GPT=$WORK/gpt_finetune
TOKENS=$WORK/tokens EVAL=$WORK/eval DATA_AUTO=$WORK/cmu_hml_auto TOKENS_AUTO=$WORK/tokens_auto
VQ3A=$WORK/vq3_stage1 VQ3=$WORK/vq3 TOKENS3=$WORK/tokens_v3 GPT3A=$WORK/gpt_v3_stage1 GPT3=$WORK/gpt_v3
GPT4=$WORK/gpt_v4 CRITIC=$WORK/critic
mkdir -p "$WORK" "$EVAL"

$T prepare cmu --src "$SRC" --out "$DATA"
$T prepare cmu --src "$SRC" --out "$DATA_AUTO" --auto-captions
[ -f "$EV/evaluator.safetensors" ] || $T train-evaluator --data "$DATA" --out "$EV" --device "$DEVICE"
resume() { [ -f "$1/last.pt" ] && echo --resume || true; }
$T train-vq --data "$DATA" --out "$VQ" --config configs/demo_vq_cmu.json --device "$DEVICE" $(resume "$VQ")
$T tokenize --data "$DATA" --vq "$VQ" --out "$TOKENS"
$T train-gpt --data "$DATA" --tokens "$TOKENS" --vq "$VQ" --out "$GPT1" --config configs/demo_gpt_cmu.json \
    --evaluator "$EV" --device "$DEVICE" $(resume "$GPT1")
# version 1: the final checkpoint (checkpoints of steps 1600-2400 scored alike on the val split)
$T export-model --vq "$VQ" --gpt "$GPT1" --checkpoint last --out "$WORK/model_v1" --name t2mgpt-cmu-demo --half --overwrite
# the decoder with a bounded look-ahead (same codes)
$T train-vq --data "$DATA" --out "$VQ2" --init-from "$VQ" --decoder-only --decoder-lookahead 4 --iters 5000 \
    --batch-size 64 --window-size 64 --lr 2e-4 --warmup-iters 100 --lr-milestones 4000 --log-every 50 \
    --eval-every 500 --device "$DEVICE" $(resume "$VQ2")
# the GPT fine-tuned on the labelled data (same clips, same codes; the mirrors' captions differ)
$T tokenize --data "$DATA_AUTO" --vq "$VQ" --out "$TOKENS_AUTO"
$T train-gpt --data "$DATA_AUTO" --tokens "$TOKENS_AUTO" --vq "$VQ" --out "$GPT" --config configs/demo_gpt_cmu_finetune.json \
    --init-from "$WORK/model_v1" --device "$DEVICE" $(resume "$GPT")
$T export-model --vq "$VQ2" --gpt "$GPT" --checkpoint last --out "$WORK/model_v2" --name t2mgpt-cmu-demo --half \
    --guidance-scale 2 --overwrite
# version 3: the whole VQ-VAE trained further (new codes), the version-2 GPT trained on them
vq_more() {  # OUT INIT ITERS MILESTONE EVAL_EVERY (best.pt, which the next steps read, is chosen at these)
    $T train-vq --data "$DATA" --out "$1" --config configs/demo_vq_cmu.json --init-from "$2" --decoder-lookahead 4 \
        --iters "$3" --lr 1e-4 --warmup-iters 100 --lr-milestones "$4" --loss-vel 1.0 --log-every 100 \
        --eval-every "$5" --device "$DEVICE" $(resume "$1")
}
vq_more "$VQ3A" "$VQ2" 5000 4000 500
vq_more "$VQ3" "$VQ3A" 8000 6500 1000
$T tokenize --data "$DATA_AUTO" --vq "$VQ3" --out "$TOKENS3"
$T train-gpt --data "$DATA_AUTO" --tokens "$TOKENS3" --vq "$VQ3" --out "$GPT3A" --config configs/demo_gpt_cmu_v3.json \
    --init-from "$WORK/model_v2" --device "$DEVICE" $(resume "$GPT3A")
$T export-model --vq "$VQ3" --gpt "$GPT3A" --checkpoint last --out "$WORK/model_v3_stage1" --name t2mgpt-cmu-demo \
    --half --guidance-scale 2 --overwrite
$T train-gpt --data "$DATA_AUTO" --tokens "$TOKENS3" --vq "$VQ3" --out "$GPT3" --config configs/demo_gpt_cmu_finetune.json \
    --init-from "$WORK/model_v3_stage1" --device "$DEVICE" $(resume "$GPT3")
$T export-model --vq "$VQ3" --gpt "$GPT3" --checkpoint last --out "$WORK/model_v3" --name t2mgpt-cmu-demo --half \
    --guidance-scale 2 --overwrite
# version 4: the same fine-tune on minilm-sides text features
$T train-gpt --data "$DATA_AUTO" --tokens "$TOKENS3" --vq "$VQ3" --out "$GPT4" --config configs/demo_gpt_cmu_finetune.json \
    --init-from "$WORK/model_v3_stage1" --text-encoder minilm-sides --device "$DEVICE" $(resume "$GPT4")
$T export-model --vq "$VQ3" --gpt "$GPT4" --checkpoint last --out "$WORK/model_v4" --name t2mgpt-cmu-demo --half \
    --guidance-scale 3 --overwrite
# version 5: best-of-8 with a critic trained on the labelled data
[ -f "$CRITIC/evaluator.safetensors" ] || $T train-evaluator --data "$DATA_AUTO" --out "$CRITIC" --epochs 6 --device "$DEVICE"
$T export-model --vq "$VQ3" --gpt "$GPT4" --checkpoint last --out "$WORK/model" --name t2mgpt-cmu-demo --half \
    --guidance-scale 3 --candidates 8 --critic "$CRITIC" --overwrite
.venv/bin/python benchmarks/prompt_suite.py --model "$WORK/model_v1" --model "$WORK/model_v2" --model "$WORK/model_v3" \
    --model "$WORK/model_v4" --label "version 1" --label "version 2" --label "version 3" --label "version 4" --samples 10 \
    --json-out "$EVAL/prompt_suite.json"
# versions 3 and 4 at guidance scales 2 and 3, seeds 0-9 and 10-19; version 5 (best of 8) and its candidates
for seed in 0 10; do
    .venv/bin/python benchmarks/prompt_suite.py --model "$WORK/model_v3" --model "$WORK/model_v4" --label "version 3" \
        --label "version 4" --guidance-scale 2 --guidance-scale 3 --samples 10 --seed $seed \
        --json-out "$EVAL/prompt_suite_guidance_seed$seed.json"
    .venv/bin/python benchmarks/prompt_suite.py --model "$WORK/model" --label "version 5" --samples 10 --seed $seed \
        --json-out "$EVAL/prompt_suite_v5_seed$seed.json"
done
.venv/bin/python benchmarks/side_margin.py --model "$WORK/model_v3" --model "$WORK/model_v4" --data "$DATA_AUTO" \
    --json-out "$EVAL/side_margin.json"
common=(--data "$DATA" --evaluator "$EV" --replications 20 --device "$DEVICE")
$T evaluate --model "$WORK/model" "${common[@]}" --json-out "$EVAL/generated.json"
$T evaluate --model "$WORK/model_v4" "${common[@]}" --json-out "$EVAL/generated_v4.json"
$T evaluate --model "$WORK/model_v3" "${common[@]}" --json-out "$EVAL/generated_v3.json"
$T evaluate --model "$WORK/model_v3" --guidance-scale 3 "${common[@]}" --json-out "$EVAL/generated_v3_guidance3.json"
$T evaluate --model "$WORK/model" --reconstruction "${common[@]}" --json-out "$EVAL/reconstruction.json"
$T evaluate --baseline shuffled "${common[@]}" --json-out "$EVAL/shuffled.json"
$T evaluate --baseline train-motions "${common[@]}" --json-out "$EVAL/train_motions.json"
$T evaluate --model "$WORK/model_v1" "${common[@]}" --json-out "$EVAL/generated_v1.json"
$T evaluate --model "$WORK/model_v2" "${common[@]}" --json-out "$EVAL/generated_v2.json"
$T export-model --vq "$VQ3" --gpt "$GPT4" --checkpoint last --out "$WORK/t2mgpt-cmu-demo" --name t2mgpt-cmu-demo \
    --half --guidance-scale 3 --candidates 8 --critic "$CRITIC" --overwrite \
    --description-file configs/demo_card/description.md --trained-on-file configs/demo_card/trained_on.md \
    --license-file configs/demo_card/license.md --card-notes-file configs/demo_card/notes.md \
    --evaluation "$EVAL/generated.json" --evaluation "$EVAL/reconstruction.json" \
    --evaluation "$EVAL/shuffled.json" --evaluation "$EVAL/train_motions.json"
echo "model folder: $WORK/t2mgpt-cmu-demo (the bundled copy lives in src/t2mgpt/models_bundled/)"
