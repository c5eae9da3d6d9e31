"""The worker behind ``POST /extract``: a bounded queue whose texts one worker thread runs through
``nlp.pipe`` in batches, the request timeout, and the skipping of requests nobody waits for.

Concurrent requests are gathered into one ``nlp.pipe`` call (up to ``batch_size`` texts, waiting at
most ``batch_wait`` seconds for more). At most ``max_queue`` texts wait; a request that does not fit
raises ``QueueFull`` (503 with ``Retry-After``) and is not queued. A request not answered within its
timeout raises ``RequestTimeout`` (504); one whose client went away raises ``ClientGone``; the work
of either is skipped, never computed.
"""
import asyncio
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Awaitable, Callable, List, Optional

logger = logging.getLogger("spacy_triples.serve")


def default_max_queue(batch_size: int, max_texts: int) -> int:
    """Texts that may wait for the worker by default: four batches, and never fewer than one full
    request (``max_texts``), so that every request the limits accept can be queued."""
    return max(4 * batch_size, max_texts)



class QueueFull(Exception):
    """The queue has no room for a request's texts (503); ``retry_after`` in whole seconds."""

    def __init__(self, detail: str, retry_after: int):
        super().__init__(detail)
        self.detail, self.retry_after = detail, retry_after


class RequestTimeout(Exception):
    """No answer within the request timeout (504)."""


class ClientGone(Exception):
    """The client closed the connection before its answer was ready."""



class _Job:
    __slots__ = ("texts", "future", "queued")

    def __init__(self, texts: List[str], future: asyncio.Future):
        self.texts, self.future, self.queued = texts, future, True


class Batcher:
    """Gathers the texts of concurrent requests into one ``nlp.pipe`` call, run in one worker thread
    (the pipeline is never used by two threads at once).

    At most ``max_queue`` texts wait in the queue (the batch being run is not counted); ``submit``
    refuses a request that does not fit instead of queueing it. A request whose future is done
    before the worker reaches it (its client timed out or went away) is skipped, never computed."""

    def __init__(self, nlp, batch_size: int = 32, batch_wait: float = 0.005, max_queue: Optional[int] = None):
        self.nlp, self.batch_size, self.batch_wait = nlp, batch_size, batch_wait
        self.max_queue = max_queue if max_queue is not None else 4 * batch_size
        self.queue: Optional[asyncio.Queue] = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlp")
        self.stats = {"requests": 0, "texts": 0, "batches": 0, "largest_batch": 0, "errors": 0,
                      "rejected": 0, "skipped": 0}
        self.depth = 0  # texts waiting in the queue, the requests that are done (cancelled) not counted
        self.batch_seconds: Optional[float] = None  # moving average of a batch's time, for Retry-After
        self.task: Optional[asyncio.Task] = None
        self.closing = False

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done() and not self.closing

    def full(self, n: int = 1) -> bool:
        """Whether ``n`` more texts would overflow the queue."""
        return self.depth + n > self.max_queue

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained: the batches waiting (and the one running)
        times the average time of a batch so far; 1 before the first batch."""
        if self.batch_seconds is None:
            return 1
        batches = math.ceil(self.depth / self.batch_size) + 1
        return max(1, math.ceil(self.batch_seconds * batches))

    async def start(self):
        self.queue = asyncio.Queue()
        self.closing = False
        self.task = asyncio.create_task(self._run())
        self.task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:  # a bug: say so, /ready turns 503
            logger.error("the worker stopped: every request now gets 503", exc_info=task.exception())

    async def stop(self):
        """Finish what is queued (requests still waiting for it), then stop the worker thread."""
        self.closing = True
        if self.task is not None and not self.task.done():
            self.queue.put_nowait(None)  # the worker answers every job queued before it, then ends
            try:
                await self.task
            except asyncio.CancelledError:  # pragma: no cover - the server cancelled us
                pass
        while self.queue is not None and not self.queue.empty():  # nothing lost silently
            job = self.queue.get_nowait()
            if job is not None and not job.future.done():
                job.future.set_exception(RuntimeError("the server stopped before this request was run"))
        self.executor.shutdown(wait=True)

    def submit(self, texts: List[str]) -> asyncio.Future:
        """Queue ``texts`` and return the future of their docs, or raise QueueFull. Synchronous: no
        other request is admitted between the check and the put."""
        if not self.running:
            raise QueueFull("the server is starting or shutting down", 1)
        if self.full(len(texts)):
            self.stats["rejected"] += 1
            raise QueueFull(f"the queue is full ({self.depth} texts waiting, the limit is {self.max_queue}, "
                            "--max-queue); retry after the Retry-After seconds", self.retry_after())
        job = _Job(texts, asyncio.get_running_loop().create_future())
        self.depth += len(texts)
        job.future.add_done_callback(lambda _, job=job: self._leave(job))
        self.queue.put_nowait(job)
        return job.future

    def _leave(self, job: _Job) -> bool:
        """Take ``job`` off the depth count (once); True if it still wants an answer."""
        if job.queued:
            job.queued = False
            self.depth -= len(job.texts)
        return not job.future.done()

    async def process(self, texts: List[str], timeout: Optional[float] = None,
                      disconnected: Optional[Callable[[], Awaitable[Any]]] = None):
        """The docs of ``texts``. Raises QueueFull, RequestTimeout after ``timeout`` seconds, or
        ClientGone when ``disconnected()`` returns first; the job is then cancelled and skipped."""
        future = self.submit(texts)
        watcher = asyncio.ensure_future(disconnected()) if disconnected is not None else None
        try:
            waiting = {future} if watcher is None else {future, watcher}
            done, _ = await asyncio.wait(waiting, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if future in done:
                return future.result()
            if watcher is not None and watcher in done:
                raise ClientGone()
            raise RequestTimeout()
        finally:
            if not future.done():
                future.cancel()  # the worker skips it
            if watcher is not None:
                watcher.cancel()

    async def _run(self):
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            job = await self.queue.get()
            if job is None:  # stop(): everything queued before it has been answered
                break
            if not self._leave(job):
                self.stats["skipped"] += 1
                continue
            jobs, n = [job], len(job.texts)
            deadline = loop.time() + self.batch_wait
            while n < self.batch_size:  # what is queued already, then what comes within batch_wait
                try:
                    job = self.queue.get_nowait()
                except asyncio.QueueEmpty:
                    timeout = deadline - loop.time()
                    if timeout <= 0:
                        break
                    try:
                        job = await asyncio.wait_for(self.queue.get(), timeout)
                    except asyncio.TimeoutError:
                        break
                if job is None:
                    stopping = True
                    break
                if self._leave(job):
                    jobs.append(job)
                    n += len(job.texts)
                else:
                    self.stats["skipped"] += 1
            live = [j for j in jobs if not j.future.done()]  # gone or timed out while the batch gathered
            self.stats["skipped"] += len(jobs) - len(live)
            jobs = live
            if not jobs:
                continue
            texts = [text for j in jobs for text in j.texts]
            started = loop.time()
            try:
                docs = await loop.run_in_executor(
                    self.executor, lambda: list(self.nlp.pipe(texts, batch_size=self.batch_size)))
            except Exception as err:  # the pipeline failed: answer every waiting request, keep serving
                self.stats["errors"] += 1
                for j in jobs:
                    if not j.future.done():
                        j.future.set_exception(err)
                continue
            seconds = loop.time() - started
            self.batch_seconds = seconds if self.batch_seconds is None else 0.8 * self.batch_seconds + 0.2 * seconds
            self.stats["batches"] += 1
            self.stats["texts"] += len(texts)
            self.stats["requests"] += len(jobs)
            self.stats["largest_batch"] = max(self.stats["largest_batch"], len(texts))
            start = 0
            for j in jobs:
                if not j.future.done():
                    j.future.set_result(docs[start:start + len(j.texts)])
                start += len(j.texts)
