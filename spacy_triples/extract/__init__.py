"""Running a trained pipeline over a corpus: the local engine (``local``) and the Ray engine."""
