"""Writing output files safely: through a temporary file (or folder) in the same folder, renamed over
the target only when complete (so a failed or interrupted command never leaves a partial file), and
never over the command's own input. Reading input files: a UTF-8 byte-order mark at the start of a file
(Windows tools write one) is not part of the text, and every reader drops it here."""
import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Tuple, Union

PathLike = Union[str, Path]
BOM = b"\xef\xbb\xbf"  # U+FEFF encoded as UTF-8
# the encoding for a text-mode read: UTF-8, a byte-order mark at the start dropped
READ_ENCODING = "utf-8-sig"


class JsonLineError(ValueError):
    """A JSON-lines line that is not valid UTF-8 or not JSON; the message names the line."""


# what json_line returns for a blank line (no record)
BLANK_LINE = object()


def json_line(raw: Union[bytes, str], where: str) -> Any:
    """The JSON value of one line of a JSON-lines file, or ``BLANK_LINE`` for a line of whitespace.

    raw: the line as bytes (decoded as UTF-8) or as text; where: "FILE, line N" for the message.
    Raises JsonLineError("{where}: invalid UTF-8 at byte B." / "{where}: malformed JSON (why).").
    The one decoder of JSONL lines for ``convert``, ``export``/``graph``, the alias tables and
    ``extract`` (which makes its error a record instead of raising it).
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf8")
        except UnicodeDecodeError as err:
            raise JsonLineError(f"{where}: invalid UTF-8 at byte {err.start}.") from err
    if not raw.strip():
        return BLANK_LINE
    try:
        return json.loads(raw)
    except json.JSONDecodeError as err:
        raise JsonLineError(f"{where}: malformed JSON ({err.msg}).") from err
    except RecursionError as err:
        raise JsonLineError(f"{where}: malformed JSON (nested too deeply).") from err


def strip_bom(data: bytes) -> bytes:
    """``data`` (a whole file, or its first line) without a leading UTF-8 byte-order mark."""
    return data[len(BOM):] if data.startswith(BOM) else data


def numbered_lines(handle: Iterable[bytes]) -> Iterator[Tuple[int, bytes]]:
    """(line number from 1, line) of a binary input, the byte-order mark of line 1 dropped. Works on
    any stream (stdin, a decompressing reader): nothing is read ahead and nothing seeks."""
    for n, raw in enumerate(handle, 1):
        if n == 1:
            raw = strip_bom(raw)
            if not raw:
                return  # the input was only the mark: no line, as for an empty input
        yield n, raw


def skip_bom(handle: IO[bytes]) -> int:
    """Move a seekable binary file past its byte-order mark, if any; returns the position of the
    text's first byte (seek back there to read the text again)."""
    start = len(BOM) if handle.read(len(BOM)) == BOM else 0
    handle.seek(start)
    return start


def check_output_path(output: PathLike, *inputs: PathLike, what: str = "output") -> Path:
    """Refuse an output path that is a directory or one of the inputs (it would be overwritten
    before, or while, it is read). Returns the output as a Path."""
    out = Path(output)
    if out.is_dir():
        raise ValueError(f"The {what} {output} is a directory: give a file path.")
    for given in inputs:
        if given in (None, "-"):
            continue
        src = Path(given)
        same = False
        try:
            same = out.exists() and src.exists() and os.path.samefile(out, src)
        except OSError:
            same = False
        if same or out.resolve() == src.resolve():
            raise ValueError(
                f"The {what} {output} is the input {given}: writing it would destroy the input. "
                "Give another output path."
            )
    return out


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``, on any error it
    is removed and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        try:
            mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
            os.chmod(tmp, mode)
        except OSError:
            pass
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "w", **kwargs):
    """``open`` for writing through a temporary file (see ``atomic_path``)."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, **kwargs) as handle:
            yield handle


@contextlib.contextmanager
def atomic_dir(path: PathLike) -> Iterator[Path]:
    """Yield a new empty folder beside ``path``; on success it replaces ``path`` (a folder written by
    an earlier run is moved aside, and removed once the new one is in place), on any error it is
    removed and ``path`` is left as it was. For outputs that are folders (a saved pipeline)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"The output {path} is a file: give a folder path (the output is a pipeline folder).")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        with contextlib.suppress(OSError):
            os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o777 & ~_umask())
        if path.exists():
            old = tmp.with_name(tmp.name[: -len(".tmp")] + ".old")  # unique as tmp is; not there yet
            os.replace(path, old)
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old, path)  # put the earlier output back
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_pipeline(nlp, path: PathLike) -> None:
    """``nlp.to_disk(path)`` through a temporary folder (see ``atomic_dir``): a failure while
    writing leaves an earlier pipeline at ``path`` whole, and no partial folder."""
    with atomic_dir(path) as tmp:
        nlp.to_disk(tmp)


def write_text(path: PathLike, text: str) -> None:
    with atomic_open(path, "w", encoding="utf8") as handle:
        handle.write(text)


def write_bytes(path: PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_output_folder(output: PathLike, *inputs: PathLike) -> Path:
    """Refuse an output folder that is a file, one of the inputs, inside an input folder (a later
    run would read its own output), or a folder that already holds files (the shards of another run
    would mix with the new ones). A missing or empty folder is fine. Returns the output as a Path."""
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise ValueError(f"The output {output} is a file: give a folder (the output is a folder of shards).")
    resolved = out.resolve()
    for given in inputs:
        if given in (None, "-") or "://" in str(given):
            continue
        src = Path(given).resolve()
        if resolved == src or src in resolved.parents:
            raise ValueError(f"The output folder {output} is inside the input {given}: give a folder elsewhere.")
    if out.is_dir() and any(out.iterdir()):
        raise ValueError(f"The output folder {output} is not empty: give a new or empty folder, so that the "
                         "shards of another run do not mix with this one.")
    return out
