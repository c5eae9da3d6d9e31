"""Every registered name of the package. Each one is also an entry point in pyproject.toml."""
from spacy.util import registry

from .encoders.dgcnn.model import build_dgcnn
from .encoders.token_features import build_token_features
from .encoders.word_features import build_word_features
from .heads.global_pointer.model import build_global_pointer, build_global_pointer_v2
from .heads.pointer.model import build_pointer_head
from .training.batching import configure_length_buckets
from .training.memory import make_malloc_trim, make_training_memory
from .training.augment import create_entity_swap_augmenter
from .training.averages import make_torch_averages
from .training.callbacks import make_chain_callbacks
from .training.freeze import make_freeze_parameters
from .training.gazetteer import read_triple_entity_patterns
from .training.fused_adam import make_fused_adam
from .training.layerwise import make_layerwise_adam
from .training.precision import make_cpu_autocast, make_precision
from .training.normalize import create_normalizing_tokenizer
from .scorer import make_triple_scorer
from .util import package_folder

registry.architectures.register("spacy_triples.GlobalPointer.v1", func=build_global_pointer)
registry.architectures.register("spacy_triples.GlobalPointer.v2", func=build_global_pointer_v2)
registry.architectures.register("spacy_triples.PointerHead.v1", func=build_pointer_head)
registry.architectures.register("spacy_triples.DGCNN.v1", func=build_dgcnn)
registry.architectures.register("spacy_triples.TokenFeatures.v1", func=build_token_features)
registry.architectures.register("spacy_triples.WordFeatures.v1", func=build_word_features)
registry.scorers.register("spacy_triples.triple_scorer.v1", func=make_triple_scorer)
registry.misc.register("spacy_triples.package_folder.v1", func=package_folder)
registry.tokenizers.register("spacy_triples.normalizing_tokenizer.v1", func=create_normalizing_tokenizer)
registry.callbacks.register("spacy_triples.malloc_trim.v1", func=make_malloc_trim)
registry.callbacks.register("spacy_triples.training_memory.v1", func=make_training_memory)
registry.callbacks.register("spacy_triples.cpu_autocast.v1", func=make_cpu_autocast)
registry.callbacks.register("spacy_triples.precision.v1", func=make_precision)
registry.callbacks.register("spacy_triples.torch_averages.v1", func=make_torch_averages)
registry.callbacks.register("spacy_triples.freeze_parameters.v1", func=make_freeze_parameters)
registry.callbacks.register("spacy_triples.chain_callbacks.v1", func=make_chain_callbacks)
registry.optimizers.register("spacy_triples.LayerwiseAdam.v1", func=make_layerwise_adam)
registry.optimizers.register("spacy_triples.Adam.v1", func=make_fused_adam)
registry.augmenters.register("spacy_triples.entity_swap.v1", func=create_entity_swap_augmenter)
registry.batchers.register("spacy_triples.batch_by_length.v1", func=configure_length_buckets)
registry.readers.register("spacy_triples.triple_entity_patterns.v1", func=read_triple_entity_patterns)
