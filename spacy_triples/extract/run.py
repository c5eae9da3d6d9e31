"""What a run of either engine shares: the check of its count options, the summary it returns, and
running a pipeline over input records with a failing document isolated (the local engine's loop and
every Ray actor's batch)."""
from collections import deque
from dataclasses import dataclass
from typing import Any, Deque, Iterable, Iterator, List, Tuple

from .records import InputRecord


@dataclass
class ExtractSummary:
    """The counts of a run, as the command prints them (``line``)."""
    read: int = 0
    written: int = 0
    failed: int = 0
    triples: int = 0
    seconds: float = 0.0
    resumed: int = 0

    def line(self) -> str:
        rate = self.read / self.seconds if self.seconds else 0.0
        resumed = f"{self.resumed} already written (resumed), " if self.resumed else ""
        return (f"{resumed}{self.read} documents read, {self.written} written, {self.failed} failed, "
                f"{self.triples} triples, {self.seconds:.1f} s ({rate:.1f} docs/s)")


def check_positive(**values: int) -> None:
    """ValueError naming the option when a count is not a positive integer (0 would process nothing)."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            option = "--" + name.replace("_", "-")
            raise ValueError(f"{option} must be a positive integer, got {value!r}.")


def pipe_records(nlp, records: Iterable[InputRecord], batch_size: int = 64,
                 n_process: int = 1) -> Iterator[Tuple[InputRecord, Any]]:
    """(record, Doc) for every record, in input order, through ``nlp.pipe``; the Doc is None for an
    error record. Records with an error pass through the pipeline as empty texts, so that the order
    is kept with several processes too.

    When ``nlp.pipe`` raises, the records it had taken and not given back (the failing batch, and
    with ``n_process`` > 1 the batches sent ahead) are run again in this process one document at a
    time: a document that raises again becomes an error record naming the exception (``record.error``
    is set), the others get their Doc, and ``nlp.pipe`` starts again on the rest of the input. An
    exception raised while reading the input is not the pipeline's: it propagates.
    """
    source = iter(records)
    pending: Deque[InputRecord] = deque()  # taken by nlp.pipe, not given back yet
    input_failed: List[BaseException] = []

    def feed():
        while True:
            try:
                record = next(source)
            except StopIteration:
                return
            except BaseException as err:
                input_failed.append(err)
                raise
            pending.append(record)
            yield ("" if record.error else record.text), record

    while True:
        try:
            for doc, record in nlp.pipe(feed(), as_tuples=True, batch_size=batch_size, n_process=n_process):
                pending.popleft()
                yield record, (None if record.error else doc)
            return
        except Exception:
            if input_failed or not pending:
                raise  # reading the input failed, or the pipeline fails before any document
            retry = list(pending)
            pending.clear()
        for record in retry:
            yield record, run_alone(nlp, record)


def run_alone(nlp, record: InputRecord):
    """The Doc of one record processed on its own; None for an error record. When the pipeline
    raises on it, the record becomes an error record that names the exception."""
    if record.error:
        return None
    try:
        return next(iter(nlp.pipe([record.text], batch_size=1)))
    except Exception as err:
        message = str(err).strip() or "(no message)"
        record.error = (f"document {record.id}: the pipeline raised {type(err).__name__}: {message} "
                        "(this document is skipped; the other documents of its batch were processed)")
        return None
