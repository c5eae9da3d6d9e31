"""Running a trained pipeline over a corpus (``spacy-triples extract``).

- :mod:`.records`: the ``extract`` record, the one schema every engine and the service write, and the
  readers and writers of record files (input text lines, JSONL, folders of ``.txt``; output JSONL);
- :mod:`.run`: what a run of either engine shares (option checks, the summary, ``pipe_records``,
  which isolates a document the pipeline raises on);
- :mod:`.local`: the local engine, streaming one JSONL file (with ``--resume``);
- :mod:`.ray_engine`: the Ray engine (``--engine ray``), a module set: rows, reader, actors, writer,
  options and the driver.
"""
