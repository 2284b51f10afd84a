"""Write files and whole report directories so that readers never see half a result.

A file is written to a temporary sibling and moved into place with :func:`os.replace`
(atomic on POSIX and Windows). A report directory is built in a hidden staging
directory next to its final place and swapped in only when complete: an interrupted
or failed run leaves the previous complete report untouched, and whatever it leaves
behind has a name starting with ``.`` that says ``partial`` or ``failed``.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from types import TracebackType

from analysis.atomic import atomic_write_bytes, atomic_write_text

__all__ = ["atomic_write_bytes", "atomic_write_text", "StagingDirectory"]


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
