from .dgcnn import build_dgcnn
from .gplinker import PairCandidates, PairScores, build_global_pointer
from .pointer import PointerScores, PointerTriples, build_pointer_head

__all__ = ["PairCandidates", "PairScores", "PointerScores", "PointerTriples", "build_dgcnn", "build_global_pointer", "build_pointer_head"]
