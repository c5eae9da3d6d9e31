from .gplinker import PairCandidates, PairScores, build_global_pointer

__all__ = ["PairCandidates", "PairScores", "build_global_pointer"]
