"""spacy_triples.batch_by_length.v1: batches of a fixed number of sentences, grouped by length."""
import random

import pytest
import spacy
from spacy.training.batchers import minibatch
from spacy.training.loop import create_train_batches
from spacy.util import registry
from thinc.api import Config

from spacy_triples.training.batching import length_buckets

from ..util import TRAIN_DATA, make_examples


def _lengths(n, seed=0):
    rng = random.Random(seed)
    # token counts spread like a corpus's: mostly short, a long tail
    return [min(120, int(rng.expovariate(1 / 25)) + 3) for _ in range(n)]


def _padded(batches, get_length=len):
    return sum(len(b) * max(get_length(x) for x in b) for b in batches)


@pytest.mark.parametrize("n,size,buffer", [(1000, 8, 32), (257, 8, 4), (5, 8, 32), (64, 8, 8), (9, 1, 3)])
def test_every_item_once_in_batches_of_size(n, size, buffer):
    items = [[0] * length for length in _lengths(n)]
    random.seed(1)
    batches = list(length_buckets(items, size, buffer))
    assert sorted(id(x) for b in batches for x in b) == sorted(id(x) for x in items)
    # only the last window can leave a short batch, and only one
    short = [b for b in batches if len(b) != size]
    assert len(short) <= 1 and all(0 < len(b) < size for b in short)
    assert len(short) == (1 if n % size else 0)


def test_batches_of_one_window_are_consecutive_runs_of_its_sorted_lengths():
    lengths = _lengths(8 * 4 * 3)
    items = [[0] * length for length in lengths]
    random.seed(0)
    batches = list(length_buckets(items, 8, 4))
    for w in range(3):
        window = batches[w * 4:(w + 1) * 4]
        ordered = sorted(window, key=lambda b: len(b[0]))
        flat = [len(x) for b in ordered for x in b]
        assert flat == sorted(len(x) for x in items[w * 32:(w + 1) * 32])
    # the order of the batches in a window is shuffled, not always shortest first
    firsts = [len(batches[w * 4][0]) == min(len(x) for b in batches[w * 4:(w + 1) * 4] for x in b)
              for w in range(3)]
    assert not all(firsts)


def test_less_padding_than_spacy_batches_of_the_same_size():
    items = [[0] * length for length in _lengths(2000)]
    random.seed(0)
    plain = _padded(minibatch(items, 8))
    bucketed = _padded(length_buckets(items, 8, 32))
    real = sum(len(x) for x in items)
    assert bucketed < plain
    assert bucketed / real < 1.1 < 1.5 < plain / real


def test_buffer_one_is_spacys_batching():
    items = [[0] * length for length in _lengths(100)]
    random.seed(0)
    ours = [sorted(map(id, b)) for b in length_buckets(items, 8, 1)]
    assert ours == [sorted(map(id, b)) for b in minibatch(items, 8)]


def test_seeded_like_spacy_training():
    items = list(range(500))
    spacy.util.fix_random_seed(3)
    first = list(length_buckets(items, 8, 16, get_length=lambda x: x % 37))
    spacy.util.fix_random_seed(3)
    assert list(length_buckets(items, 8, 16, get_length=lambda x: x % 37)) == first


@pytest.mark.parametrize("setting,value", [("size", 0), ("buffer", -1), ("size", 2.5), ("buffer", True)])
def test_bad_settings_name_the_setting(setting, value):
    settings = {"size": 8, "buffer": 32, setting: value}
    with pytest.raises(ValueError, match=f"{setting} must be a whole number"):
        registry.batchers.get("spacy_triples.batch_by_length.v1")(**settings)


def test_resolves_from_a_training_config_and_batches_examples_by_tokens():
    config = Config().from_str("""
[batcher]
@batchers = "spacy_triples.batch_by_length.v1"
size = 2
buffer = 2
get_length = null
""")
    batcher = registry.resolve(config)["batcher"]
    nlp = spacy.blank("en")
    examples = make_examples(nlp, TRAIN_DATA)
    spacy.util.fix_random_seed(0)
    epochs = {}
    for epoch, batch in create_train_batches(nlp, lambda _: iter(examples), batcher, max_epochs=2):
        epochs.setdefault(epoch, []).append(batch)
    assert set(epochs) == {0, 1}
    for batches in epochs.values():
        assert sorted(id(eg) for b in batches for eg in b) == sorted(id(eg) for eg in examples)
        assert all(len(b) == 2 for b in batches[:-1])
        # each batch of a window holds the window's shorter or longer half, by tokens
        for w in range(0, len(batches), 2):
            pair = sorted(batches[w:w + 2], key=lambda b: len(b[0]))
            if len(pair) == 2:
                assert max(len(eg) for eg in pair[0]) <= min(len(eg) for eg in pair[1])
