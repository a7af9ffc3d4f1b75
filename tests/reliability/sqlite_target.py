"""A minimal Singer SDK SQL target on SQLite, which honours ACTIVATE_VERSION.

The SDK's SQL sink stores each record's `version` in `_sdc_table_version`
and, on ACTIVATE_VERSION with hard_delete, deletes the rows of older
versions. This target is that sink on a SQLite file, with inserts that
replace rows of the same key. The tests use it in place of the loaders
built on the SDK's SQL classes.
"""

from __future__ import annotations

from typing import Any

from singer_sdk.sql import SQLConnector, SQLSink, SQLTarget
from singer_sdk import typing as th


class SQLiteConnector(SQLConnector):
    allow_temp_tables = False
    allow_column_alter = False
    allow_merge_upsert = False

    def get_sqlalchemy_url(self, config: dict[str, Any]) -> str:
        return f"sqlite:///{config['path']}"


class SQLiteSink(SQLSink[SQLiteConnector]):
    connector_class = SQLiteConnector

    def generate_insert_statement(self, full_table_name, schema):
        # The SDK inserts; a second full sync must replace the rows by key.
        statement = super().generate_insert_statement(full_table_name, schema)
        return statement.prefix_with("OR REPLACE")


class SQLiteTarget(SQLTarget):
    name = "target-sqlite-test"
    config_jsonschema = th.PropertiesList(th.Property("path", th.StringType(), required=True)).to_dict()
    default_sink_class = SQLiteSink
