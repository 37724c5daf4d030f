"""Key rotation: re-encrypt personal data under the newest STORECRM_DATA_KEY, in batches.

Every `EncryptedText` column of every table (core and plugins) is covered; a `<column>_hash`
next to it is taken to be its lookup hash and is recomputed too, as is a `<column>_last4_hash`
(the counter's last-four-digits index, `core.models.customer.last4_key`). The run can stop and start
again at any time: a value already under the newest key, with a current hash, is skipped, so
the progress is derived from the data itself and nothing has to be remembered."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Text, select, type_coerce

from core.crypto import DataCipher, EncryptedText


@dataclass
class TableRotation:
    table: str
    columns: list[str]
    rotated: int = 0
    skipped: int = 0


@dataclass
class RotationReport:
    tables: list[TableRotation] = field(default_factory=list)

    @property
    def rotated(self) -> int:
        return sum(t.rotated for t in self.tables)

    @property
    def skipped(self) -> int:
        return sum(t.skipped for t in self.tables)


def encrypted_tables(metadata) -> list[tuple]:
    """(table, primary key column, [(encrypted column, its hash column or None)]) per table."""
    found = []
    for table in metadata.sorted_tables:
        pairs = [(c, table.c.get(c.name + "_hash")) for c in table.columns if isinstance(c.type, EncryptedText)]
        if not pairs:
            continue
        pk = list(table.primary_key.columns)
        if len(pk) != 1:
            raise RuntimeError(f"{table.name}: key rotation needs a single-column primary key")
        found.append((table, pk[0], pairs))
    return found


def rotate_keys(session, cipher: DataCipher, metadata, *, batch: int = 500, on_batch=None) -> RotationReport:
    """Re-encrypt every stored personal value under the newest key, one committed batch at a
    time (keyset over the primary key). `on_batch(table_name, last_id)` is called after each."""
    report = RotationReport()
    for table, pk, pairs in encrypted_tables(metadata):
        result = TableRotation(table.name, [c.name for c, _ in pairs])
        report.tables.append(result)
        # Raw ciphertext: type_coerce to Text keeps EncryptedText from decrypting on the way out
        # and from encrypting a second time on the way in.
        raw = [type_coerce(c, Text).label(c.name) for c, _ in pairs]
        hashes = [h.label(h.name) for _, h in pairs if h is not None]
        hashes += [table.c[c.name + "_last4_hash"] for c, _ in pairs if c.name + "_last4_hash" in table.c]
        last = None
        while True:
            stmt = select(pk, *raw, *hashes).order_by(pk).limit(batch)
            if last is not None:
                stmt = stmt.where(pk > last)
            rows = session.execute(stmt).mappings().all()
            if not rows:
                break
            for row in rows:
                values = _rotated_values(cipher, row, pairs)
                if values:
                    session.execute(table.update().where(pk == row[pk.name]).values(values))
                    result.rotated += 1
                else:
                    result.skipped += 1
            last = rows[-1][pk.name]
            session.commit()
            if on_batch is not None:
                on_batch(table.name, last)
    return report


def _rotated_values(cipher: DataCipher, row, pairs) -> dict:
    values = {}
    for column, hash_column in pairs:
        token = row[column.name]
        if not token:
            continue
        if not cipher.is_current(token):
            values[column.name] = type_coerce(cipher.rotate(token), Text)
        if hash_column is not None:
            expected = cipher.lookup_hash(cipher.decrypt(token))
            if row[hash_column.name] != expected:
                values[hash_column.name] = expected
        last4 = column.name + "_last4_hash"
        if last4 in row:
            from core.models.customer import last4_key

            expected = cipher.lookup_hash(last4_key(cipher.decrypt(token)))
            if row[last4] != expected:
                values[last4] = expected
    return values
