#!/usr/bin/env bash
# The paper's Sec. 5 on the CPU at toy size, with the project's own commands, each step reading the
# previous step's files (tests/test_pretraining.py runs the same): a synthetic VOC lookalike,
# colorization from scratch on its photos, the trunk exported, FCN-32s fine-tuned with 8 training
# images held out, the snapshots scored on those (early stopping), the best scored on val.
#
#   tools/pretraining_e2e.sh OUT_DIR        (about a minute on two cores; run from the source tree)
set -euo pipefail
OUT=${1:?usage: tools/pretraining_e2e.sh OUT_DIR}
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PY=${PYTHON:-python}
PYC="$PY -m pycolorize"  # the installed command, or the source tree's (PYTHONPATH=$PWD)
$PY tests/synthetic_voc.py "$OUT/voc" 48 12 128 1
# narrow nets (the full-size ones are prototxt/colorize_train_scratch.prototxt, segmentation_*.prototxt)
$PY - "$OUT" <<'PYEOF'
import sys
from pycolorize import models
out = sys.argv[1]
w = {"conv": (8, 8, 16, 16, 16), "fc": 32, "h_fc1": 16}
files = {
    "scratch.prototxt": models.scratch_net(w, batch=4, crop=96, samples=32),
    "scratch_solver.prototxt": models.solver_text(f"{out}/scratch.prototxt", base_lr=0.01, max_iter=100, steps=(),
                                                  prefix=f"{out}/snap/scratch", snapshot=0, random_seed=1),
    "photos.yaml": f"source: {{type: folder, path: {out}/voc/JPEGImages}}\nshort_side: 128\nmargin: 8\nworkers: 2\n",
    "seg.prototxt": models.segmentation_net(w, batch=4, crop=128, dropout=False),
    "seg_solver.prototxt": models.solver_text(f"{out}/seg.prototxt", base_lr=0.02, momentum=0.9, max_iter=400,
                                              steps=(), prefix=f"{out}/snap/seg", snapshot=100, random_seed=1),
    "voc.yaml": f"source: {{type: voc, path: {out}/voc, list: train, holdout: 8}}\nscale_min: 0.8\nscale_max: 1.2\nworkers: 2\n",
    "deploy.prototxt": models.segmentation_net(w, crop=128, deploy=True),
}
for name, text in files.items():
    open(f"{out}/{name}", "w").write(text)
PYEOF
$PYC train --solver "$OUT/scratch_solver.prototxt" --data "$OUT/photos.yaml" --quiet
$PYC export-trunk "$OUT/snap/scratch_iter_100.caffemodel.h5" -o "$OUT/trunk.caffemodel.h5"
$PYC train --solver "$OUT/seg_solver.prototxt" --data "$OUT/voc.yaml" --weights "$OUT/trunk.caffemodel.h5" --quiet
$PYC evaluate-segmentation --prototxt "$OUT/deploy.prototxt" --weights "$OUT"/snap/seg_iter_*.caffemodel.h5 \
    --voc "$OUT/voc" --list "$OUT/snap/seg_holdout.txt" -o "$OUT/selection" --quiet | tail -1
$PYC evaluate-segmentation --prototxt "$OUT/deploy.prototxt" --weights "$OUT/selection/best.caffemodel.h5" \
    --voc "$OUT/voc" --list val -o "$OUT/val" --quiet
