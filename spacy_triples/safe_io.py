"""Writing output files safely: through a temporary file in the same folder, renamed over the target
only when complete (so a failed or interrupted command never leaves a partial file), and never over
the command's own input."""
import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator, Union

PathLike = Union[str, Path]


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
