"""Inserting many rows of one table at once, in the caller's transaction; selecting rows by a
long list of keys."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, ColumnElement, Table, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm import Session as DB


def insert_rows(db: DB, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (each a mapping of column name to value, all with the same columns) into
    ``table``, after flushing the ORM's pending changes (rows they refer to).

    The values are stored exactly as a Core ``insert`` would store them, without its per-row
    work (building and type-processing a parameter set per row costs more CPU than the
    database's own insert): SQLite, one executemany of the values converted by the columns' own
    bind processors; PostgreSQL, one ``COPY ... FROM STDIN``, whose rows psycopg formats in C
    (aware datetimes; JSON columns as JSON, ``None`` as JSON ``null`` like SQLAlchemy's ``JSON``),
    in the binary format when psycopg has a binary dumper for every column's type (``_BINARY``):
    neither side then writes or parses the text of a time (``datetime.isoformat`` was about a
    seventh of a lifecycle event's instructions).
    raises DBAPIError as the insert would (IntegrityError for a duplicate key or a missing
    referenced row, so a caller that retries conflicts retries these too).
    """
    if not rows:
        return
    db.flush()
    dialect = db.get_bind().dialect
    names = tuple(rows[0])
    if dialect.name == "postgresql":
        _copy(db, table, names, rows)
        return
    if dialect.paramstyle != "qmark":  # not SQLite either: let SQLAlchemy do it
        db.execute(table.insert(), list(rows))
        return
    statement, processors = _insert_for(table, names, dialect)
    if processors:
        params = []
        for row in rows:
            values = [row[name] for name in names]
            for i, process in processors:
                values[i] = process(values[i])
            params.append(tuple(values))
    else:
        params = [tuple(row[name] for name in names) for row in rows]
    db.connection().exec_driver_sql(statement, params)


@lru_cache(maxsize=64)
def _insert_for(
    table: Table, names: tuple[str, ...], dialect: Dialect
) -> tuple[str, list[tuple[int, Callable[[Any], Any]]]]:
    """The positional INSERT of ``names`` into ``table`` and the bind processors of its columns
    (by position; columns whose values go to the driver as they are have none)."""
    columns = [table.c[name] for name in names]
    quoted = ", ".join(dialect.identifier_preparer.quote(column.name) for column in columns)
    placeholders = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {table.name} ({quoted}) VALUES ({placeholders})"
    processors: list[tuple[int, Callable[[Any], Any]]] = []
    for i, column in enumerate(columns):
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((i, process))
    return statement, processors


# PostgreSQL type (as SQLAlchemy compiles a column's type, without its length) -> the name of the
# type whose binary form psycopg writes for it. Every column type of storage.tables is here.
_BINARY = {
    "BIGINT": "int8",
    "BOOLEAN": "bool",
    "BYTEA": "bytea",
    "DOUBLE PRECISION": "float8",
    "FLOAT": "float8",
    "INTEGER": "int4",
    "JSONB": "jsonb",
    "SMALLINT": "int2",
    "TEXT": "text",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
    "VARCHAR": "varchar",
}


@lru_cache(maxsize=64)
def _copy_for(
    table: Table, names: tuple[str, ...], dialect: Dialect
) -> tuple[str, list[str] | None, list[int]]:
    """The ``COPY`` of ``names`` into ``table``; the psycopg types of its columns when it is in
    the binary format (None: text); the positions of the JSON columns."""
    columns = [table.c[name] for name in names]
    json = [i for i, column in enumerate(columns) if isinstance(column.type, JSON)]
    quoted = ", ".join(f'"{column.name}"' for column in columns)
    compiled = [column.type.compile(dialect=dialect).split("(")[0] for column in columns]
    types = [_BINARY[name] for name in compiled if name in _BINARY]
    if len(types) < len(columns):
        return f"COPY {table.name} ({quoted}) FROM STDIN", None, json
    return f"COPY {table.name} ({quoted}) FROM STDIN (FORMAT BINARY)", types, json


def _copy(db: DB, table: Table, names: tuple[str, ...], rows: Sequence[Mapping[str, Any]]) -> None:
    import psycopg
    from psycopg.types.json import Jsonb

    statement, types, json = _copy_for(table, names, db.get_bind().dialect)
    dbapi = db.connection().connection.driver_connection
    assert isinstance(dbapi, psycopg.Connection)
    try:
        with dbapi.cursor() as cursor, cursor.copy(statement) as copy:
            if types is not None:
                copy.set_types(types)
            for row in rows:
                values = [row[name] for name in names]
                for i in json:
                    values[i] = Jsonb(values[i])
                copy.write_row(values)
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


def one_of(
    db: DB, column: ColumnElement[str] | InstrumentedAttribute[str], values: Sequence[str]
) -> ColumnElement[bool]:
    """``column IN values`` for a list of hundreds of keys. PostgreSQL: ``column = ANY(array)``,
    one parameter, so the statement is short and the same for every list (SQLAlchemy would
    render, and psycopg parse, a placeholder per value at every call); elsewhere an IN list."""
    if db.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)
