"""An import's files kept in the database, encrypted with the data key, in chunks.

The upload is read from the request and written here, never to the web host's disk: a worker
on any host reads it back, and nothing holds names and phones in clear but the worker's own
private copy while it imports (a folder of mode 0700, removed when the run ends). The rejected
rows are kept the same way for the page's download. `ImportRun.file_path` / `rejects_path`
say `db:...` for files kept here (older rows name files under the instance folder)."""

from __future__ import annotations

import os

from sqlalchemy import delete, exists, select

from core.models.imports import ImportChunk

PREFIX = "db:"
CHUNK_BYTES = 1024 * 1024  # a megabyte of the file per row: a 64 MB upload is 64 rows


def in_database(path: str | None) -> bool:
    return bool(path) and path.startswith(PREFIX)


def save_stream(session, run_id: int, part: str, stream) -> int:
    """Encrypt what `stream` (a binary file object) holds into the run's `part`, in the caller's
    transaction. Returns the number of bytes."""
    from core.crypto import cipher

    delete_part(session, run_id, part)
    size = seq = 0
    while True:
        piece = stream.read(CHUNK_BYTES)
        if not piece:
            break
        session.add(ImportChunk(import_run_id=run_id, part=part, seq=seq, data=cipher().encrypt_bytes(piece)))
        session.flush()  # one megabyte at a time in memory, not the whole file
        size += len(piece)
        seq += 1
    return size


def save_file(session, run_id: int, part: str, path: str) -> str:
    """`save_stream` of a file; returns the marker to keep in the run's row."""
    with open(path, "rb") as source:
        save_stream(session, run_id, part, source)
    return PREFIX + part


def write_to(session, run_id: int, part: str, path: str) -> None:
    """Decrypt the run's `part` into a new file at `path`, readable by this user only."""
    from core.crypto import cipher

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        for token in session.scalars(_chunks(run_id, part)):
            out.write(cipher().decrypt_bytes(token))


def read(session, run_id: int, part: str) -> bytes:
    from core.crypto import cipher

    return b"".join(cipher().decrypt_bytes(token) for token in session.scalars(_chunks(run_id, part)))


def has_part(session, run_id: int, part: str) -> bool:
    return bool(session.scalar(select(exists().where(ImportChunk.import_run_id == run_id, ImportChunk.part == part))))


def delete_part(session, run_id: int, part: str) -> None:
    session.execute(delete(ImportChunk).where(ImportChunk.import_run_id == run_id, ImportChunk.part == part))


def _chunks(run_id: int, part: str):
    return (select(ImportChunk.data).where(ImportChunk.import_run_id == run_id, ImportChunk.part == part)
            .order_by(ImportChunk.seq))
