#!/usr/bin/env bash
# Every benchmark, in one command: convert the datasets in ../shared/data, train and test each
# head/encoder combination within a wall-clock budget (CoNLL04, WebNLG, WebNLG*, DuIE 2.0, LIC2019),
# GlobalPointer link scores, then the speed, memory and scaling suite, and bfloat16 against float32 on the CPU. Results: benchmarks/results/*.json and the tables it prints.
#   BUDGET=180 ZH_BUDGET=300 bash benchmarks/run_all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
BUDGET="${BUDGET:-180}"
ZH_BUDGET="${ZH_BUDGET:-300}"
$PY benchmarks/convert_datasets.py > /dev/null
$PY benchmarks/compare_architectures.py --budget "$BUDGET" --datasets conll04 webnlg \
    --configs dgcnn pointer_dgcnn gp_transformer transformer
# GlobalPointer link_score "min" against "mean" on the CoNLL04 model just trained (prediction only)
$PY benchmarks/link_score.py "training/bench/conll04-gp_transformer-b${BUDGET}/model-best"
$PY benchmarks/compare_architectures.py --budget "$BUDGET" --datasets webnlg_star --configs dgcnn pointer_dgcnn
$PY benchmarks/compare_architectures.py --budget "$ZH_BUDGET" --datasets duie2 lic2019 --configs zh_dgcnn zh_pointer_dgcnn
$PY benchmarks/suite.py
$PY benchmarks/inference_speed.py
$PY benchmarks/cpu_autocast.py
$PY benchmarks/cpu_autocast.py --set training.accumulate_gradient=1
