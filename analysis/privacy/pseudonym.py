"""Keyed pseudonyms for respondent and customer ids, with a per-client secret salt.

A raw id is replaced by ``<prefix>-<hex>``: the first :data:`DIGITS` hex digits of
HMAC-SHA256(salt, id). The salt is a client's secret (32 random bytes from
:func:`secrets.token_bytes`), created on first use in ``data/secrets/<client id>.salt``
(``data/*`` is ignored by git) with file mode 0600, or where ``privacy.salt_file`` says.
It never leaves that file: outputs, manifests and logs carry at most
:func:`salt_fingerprint`, a hash of a hash that identifies *which* salt was used (so two
runs can be compared) without helping anyone recompute a pseudonym.

Why a keyed hash and not a plain one: respondent ids are often short and guessable
(``1001``, ``CUST-000123``); SHA-256 of such an id can be reversed by hashing every
candidate, HMAC with a secret key cannot. Why not random pseudonyms: the same raw id
must map to the same pseudonym in the survey and in the CRM, and in every rerun, so that
linkage and reproducibility survive.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import ConfigError, DataError
from analysis.paths import DATA_DIR, OUTPUT_ROOT, PROJECT_ROOT

__all__ = ["Pseudonymiser", "SALT_BYTES", "DIGITS", "default_salt_path", "load_or_create_salt",
           "salt_fingerprint", "normalise_id", "RESPONDENT_PREFIX", "CUSTOMER_PREFIX"]

#: Length of a new salt in bytes (256 bits, the HMAC-SHA256 block-size class of key).
SALT_BYTES = 32
#: Hex digits kept of the HMAC: 48 bits, so a million ids collide with probability ~2e-3;
#: a collision is detected and reported, never silently merged.
DIGITS = 12
RESPONDENT_PREFIX = "R"
CUSTOMER_PREFIX = "C"
_SECRETS = DATA_DIR / "secrets"


def default_salt_path(client_id: str) -> Path:
    """``data/secrets/<client id>.salt`` (outside every output folder and outside git)."""
    return _SECRETS / f"{client_id}.salt"


def _resolve(path: str | os.PathLike, client_id: str) -> Path:
    candidate = Path(path).expanduser()
    resolved = (candidate if candidate.is_absolute() else PROJECT_ROOT / candidate).resolve()
    output = OUTPUT_ROOT.resolve()
    if resolved == output or output in resolved.parents:
        raise ConfigError(f"privacy.salt_file: expected a path outside {OUTPUT_ROOT.relative_to(PROJECT_ROOT)} "
                          f"(the salt must never be published with a report), got {str(path)[:60]!r}")
    return resolved


def _create(path: Path) -> None:
    """Write a new salt to ``path`` with mode 0600 unless another process got there first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".salt-")
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(secrets.token_bytes(SALT_BYTES))
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temporary, path)  # atomic create-if-absent: a concurrent run keeps the first salt
        except FileExistsError:
            pass
    finally:
        os.unlink(temporary)


def load_or_create_salt(client_id: str, salt_file: str | os.PathLike | None = None) -> bytes:
    """The client's secret salt, created on first use (mode 0600).

    Parameters
    ----------
    client_id : str
        Names the default file ``data/secrets/<client id>.salt``.
    salt_file : path-like, optional
        The profile's ``privacy.salt_file`` (relative paths are under the project root);
        it may not lie inside ``reports/_output``.

    Raises
    ------
    ConfigError
        The file is inside the output folder, cannot be read, is too short, or can be
        read by other users (mode wider than 0600).
    """
    path = _resolve(salt_file, client_id) if salt_file is not None else default_salt_path(client_id)
    shown = path.name
    if not path.exists():
        _create(path)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        salt = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"privacy.salt_file: cannot read the salt file {shown} ({exc.strerror})") from None
    if mode & 0o077:
        raise ConfigError(f"privacy.salt_file: {shown} is readable by other users (mode {mode:o}); "
                          f"expected mode 600 (run: chmod 600 {shown})")
    if len(salt) < 16:
        raise ConfigError(f"privacy.salt_file: {shown}: expected a secret of at least 16 bytes, "
                          f"got {len(salt)} bytes")
    return salt


def salt_fingerprint(salt: bytes) -> str:
    """First 8 hex digits of SHA-256(SHA-256(salt)): says which salt, reveals nothing usable.

    32 bits of a one-way hash of a 256-bit secret leave the secret's search space as
    large as before, and differ from every HMAC output, so the fingerprint cannot be used
    to compute or test a pseudonym; it lets a reader check that two reports were made
    with the same salt (and hence have comparable pseudonyms).
    """
    return hashlib.sha256(hashlib.sha256(salt).digest()).hexdigest()[:8]


def normalise_id(value) -> str | None:
    """The text a raw id is keyed by: ``1001``, ``1001.0`` and ``" 1001 "`` are one id.

    CRM exports store ids as integers, CSV survey exports as text and Excel/SPSS as
    floats; linkage needs all three to give the same pseudonym.
    """
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass(frozen=True)
class Pseudonymiser:
    """Maps raw ids to ``<prefix>-<12 hex>`` with HMAC-SHA256 under one secret salt."""

    salt: bytes

    @classmethod
    def for_client(cls, client_id: str, salt_file: str | os.PathLike | None = None) -> Pseudonymiser:
        return cls(load_or_create_salt(client_id, salt_file))

    @property
    def fingerprint(self) -> str:
        return salt_fingerprint(self.salt)

    def one(self, value, prefix: str = RESPONDENT_PREFIX) -> str | None:
        """The pseudonym of one raw id (None stays None)."""
        key = normalise_id(value)
        if key is None:
            return None
        digest = hmac.new(self.salt, key.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"{prefix}-{digest[:DIGITS]}"

    def series(self, values: pd.Series, prefix: str, what: str = "id") -> pd.Series:
        """Pseudonyms for a column of raw ids; each distinct id is hashed once.

        Raises :class:`DataError` in the (astronomically unlikely) case that two distinct
        raw ids share a pseudonym, naming neither.
        """
        # Normalise and hash each distinct raw value once (a CRM has many orders per customer).
        codes, uniques = pd.factorize(values.astype(object), sort=False)
        keys = [normalise_id(u) for u in uniques]
        mapped = np.array([self.one(k, prefix) for k in keys], dtype=object)
        if len({m for m in mapped if m is not None}) != len({k for k in keys if k is not None}):
            raise DataError(f"{what}: two different ids received the same pseudonym; "
                            "delete the salt file to draw a new salt")
        out = np.where(codes >= 0, mapped[np.maximum(codes, 0)] if len(mapped) else None, None)
        return pd.Series(out, index=values.index, name=values.name, dtype=object)

    def frame(self, frame: pd.DataFrame | None, columns: dict[str, str]) -> pd.DataFrame | None:
        """A copy of ``frame`` with each present column of ``columns`` (name -> prefix) pseudonymised."""
        if frame is None:
            return None
        present = {c: p for c, p in columns.items() if c in frame.columns}
        if not present and frame.index.name not in columns:
            return frame
        out = frame.copy()
        for column, prefix in present.items():
            out[column] = self.series(out[column], prefix, column)
        if out.index.name in columns:
            name = out.index.name
            out.index = pd.Index(self.series(pd.Series(out.index), columns[name], name), name=name)
        return out
