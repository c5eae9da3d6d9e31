"""Resident memory of plain nlp.update steps (issue 40: the DuIE run's growth), printed every 50 steps.

    python benchmarks/update_memory_probe.py configs/zh_pointer_dgcnn.cfg corpus/converted/duie2__duie_train_5000.json.spacy steps=150 [trim=1] [KEY=JSON ...]

One torch thread, batches of 16, drop 0.1, seed 0; ``trim=1`` calls malloc_trim every 10 steps; a dotted
KEY=JSON is a config override. Not a timing benchmark."""
import sys
import torch
torch.set_num_threads(1)
from spacy import util
from spacy.training import Corpus
from thinc.api import fix_random_seed
import spacy_triples  # noqa: F401  (registers the components)
def rss():
    for l in open("/proc/self/status"):
        if l.startswith("VmRSS"): return int(l.split()[1]) // 1024
config = sys.argv[1]; train = sys.argv[2]; extra = dict(a.split("=",1) for a in sys.argv[3:])
ov = {"paths.train": train, "paths.dev": train}
if "zh" in config: ov["paths.schema"] = "../shared/data/duie2/duie_schema.json"
import json
for k,v in extra.items():
    if "." in k: ov[k]=json.loads(v)
cfg = util.load_config(config, overrides=ov)
nlp = util.load_model_from_config(cfg, auto_fill=True)
fix_random_seed(0)
corpus = Corpus(train)
examples = list(corpus(nlp))
opt = nlp.initialize(lambda: examples[:200])
print("start", rss(), flush=True)
step = 0
while step < int(extra.get("steps", 300)):
    for batch in util.minibatch(examples, 16):
        nlp.update(batch, sgd=opt, drop=0.1)
        step += 1
        if extra.get("trim") and step % 10 == 0:
            from spacy_triples.training.memory import malloc_trim; malloc_trim()
        if step % 50 == 0:
            print(step, rss(), flush=True)
        if step >= int(extra.get("steps", 300)): break
