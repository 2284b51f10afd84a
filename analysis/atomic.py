"""Atomic file writes: a reader sees the old file or the complete new one, never half.

Every output of the workbench (tables, figures, data, documents, manifests) is written
to a temporary sibling and moved into place with :func:`os.replace`, which is atomic
on POSIX and Windows. Whole folders (a report, a simulated data set) are built by
:class:`StagingDirectory` in a hidden sibling and swapped in only when complete: an
interrupted or failed run leaves the previous complete folder untouched, and whatever
it leaves behind has a name starting with ``.`` that says ``partial`` or ``failed``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "StagingDirectory"]


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it over ``path``.

    For writers that need a file name (``DataFrame.to_parquet``, ``Figure.savefig``).
    On any exception the temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600; give the file the mode open() would have given it.
        os.chmod(tmp, 0o666 & ~_current_umask())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same directory (fsynced)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (newlines are written as given)."""
    return atomic_write_bytes(path, text.encode(encoding))

class StagingDirectory:
    """Build a directory under a hidden name and swap it into ``final`` on success.

    Parameters
    ----------
    final : path-like
        Where the finished directory should end up, e.g. ``reports/_output/default``.
    keep_failed : bool, default True
        On failure keep the staging directory for debugging, renamed to
        ``.<name>.failed-<token>`` (only the latest failure per name is kept);
        otherwise delete it.

    Attributes
    ----------
    path : Path
        The staging directory to write into (``.<name>.partial-<token>``).
    failed_path : Path or None
        Where the staging directory was kept after a failure.

    Notes
    -----
    The swap renames the old ``final`` to ``.<name>.old-<token>``, renames the staging
    directory to ``final`` and then deletes the old one; between the two renames
    ``final`` is briefly absent but never half-written. A process killed outright
    (SIGKILL) leaves only a ``.partial-`` directory, which later runs ignore.

    Examples
    --------
    >>> with StagingDirectory(out / "default") as staging:   # doctest: +SKIP
    ...     (staging / "index.html").write_text(html)
    """

    def __init__(self, final: str | os.PathLike, *, keep_failed: bool = True) -> None:
        self.final = Path(final).absolute()
        self.keep_failed = keep_failed
        self.token = secrets.token_hex(4)
        self.path = self.final.parent / f".{self.final.name}.partial-{self.token}"
        self.failed_path: Path | None = None

    def __enter__(self) -> Path:
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.path.mkdir()
        return self.path

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        if exc_type is None:
            self.commit()
        else:
            self.discard()
        return False

    def commit(self) -> Path:
        """Swap the staging directory into place and delete the previous version."""
        old = None
        if self.final.exists():
            old = self.final.parent / f".{self.final.name}.old-{self.token}"
            os.rename(self.final, old)
        try:
            os.rename(self.path, self.final)
        except BaseException:
            if old is not None:
                os.rename(old, self.final)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def discard(self) -> None:
        """Remove the staging directory, or keep it as ``.<name>.failed-<token>``."""
        if not self.path.exists():
            return
        if not self.keep_failed:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        for previous in self.final.parent.glob(f".{self.final.name}.failed-*"):
            shutil.rmtree(previous, ignore_errors=True)
        self.failed_path = self.final.parent / f".{self.final.name}.failed-{self.token}"
        os.rename(self.path, self.failed_path)
