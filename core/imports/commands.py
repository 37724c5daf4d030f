"""`storecrm import customers|sales FILE`."""

from __future__ import annotations

import os

import click
from flask.cli import with_appcontext

HELP = """Import {kind} from a CSV or XLSX file (Chinese or English headers).

Rows are streamed and written in batches of --batch-size; every rejected row is listed with
its line, field and reason, on screen (the first 20) and in the report file. Valid rows are
committed and the rest reported; with --all-or-nothing nothing is committed if any row is
rejected.
"""
CUSTOMERS = HELP.format(kind="customer profiles") + """
A row whose phone or card number (会员卡号) is already known updates that profile instead of
creating another; empty cells erase nothing. Plugins are not told of each new profile unless
--with-events is given.
"""
SALES = HELP.format(kind="sales history") + """
Each row is a sale, or a line of one when rows share a receipt number (单号) and name a
product (商品编号/sku); a row may carry only a total (金额). The customer is named by card
number or phone, the store by code (门店) or --store. By default NO plugin events are fired
(history earns no points, sends no messages, moves no stock) and the classification is
recomputed once at the end; --with-events delivers sale_recorded per sale, as a till would.
A receipt number imported before is skipped, so a run can be repeated.
"""


def _command(kind: str, doc: str):
    @click.command(kind, help=doc)
    @click.argument("path", type=click.Path(exists=True, dir_okay=False))
    @click.option("--store", "store_code", help="store code for rows without one (new profiles' home store)")
    @click.option("--all-or-nothing", is_flag=True, help="commit nothing if any row is rejected")
    @click.option("--with-events", is_flag=True, help="deliver plugin events per row (off: history is quiet)")
    @click.option("--report", "report_path", type=click.Path(dir_okay=False),
                  help="where to write the rejected rows, as CSV or XLSX by its extension (default: FILE.rejected.csv or .xlsx)")
    @click.option("--map", "mappings", multiple=True, metavar="HEADER=FIELD",
                  help="map a column this file names differently, e.g. --map 客户名=name (repeatable)")
    @click.option("--batch-size", default=500, show_default=True)
    @with_appcontext
    def command(path, store_code, all_or_nothing, with_events, report_path, mappings, batch_size):
        from core.cli import _store, fail
        from core.errors import DomainError
        from core.extensions import db
        from core.imports.runner import run_import

        store = _store(store_code) if store_code else None
        column_map = {}
        for item in mappings:
            header, sep, field = item.partition("=")
            if not sep:
                fail(f"--map {item}: write HEADER=FIELD")
            column_map[header.strip()] = field.strip()
        # The rejected rows come back in the file's own format, with a reason column, to fix and
        # import again.
        source_ext = ".xlsx" if path.lower().endswith((".xlsx", ".xlsm")) else ".csv"
        report_path = report_path or os.path.splitext(path)[0] + ".rejected" + source_ext
        if os.path.exists(report_path):
            os.remove(report_path)  # a stale report from an earlier run would mislead
        with click.progressbar(length=max(os.path.getsize(path), 1), label=f"importing {kind}",
                               show_percent=True, width=30) as bar:
            state = {"at": 0}

            def progress(position, size):
                bar.length = max(size, 1)
                bar.update(max(position - state["at"], 0))
                state["at"] = position

            try:
                report = run_import(db.session, kind, path, store=store, all_or_nothing=all_or_nothing,
                                    with_events=with_events, batch_size=batch_size, report_path=report_path,
                                    column_map=column_map, progress=progress, actor="import")
            except DomainError as exc:
                detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
                fail(f"{exc.message}" + (f" ({detail})" if detail else ""))
        if report.committed:
            click.echo(f"{report.rows} rows, {report.records} {kind}: {report.created} created, {report.updated} updated, "
                       f"{report.skipped} skipped (imported before), {report.rejected} rejected")
        else:
            click.echo(f"{report.rows} rows, {report.records} {kind}: {report.rejected} rejected, so nothing was imported "
                       f"(--all-or-nothing); without them {report.would_create} would be created, "
                       f"{report.would_update} updated, {report.skipped} skipped (imported before)")
        if report.unknown_columns:
            click.echo("columns not imported: " + ", ".join(report.unknown_columns))
        for err in report.errors[:20]:
            click.echo(f"  line {err['line']}: {err['field']}: {err['reason']}")
        if report.rejected:
            click.echo(f"every rejected row is in {report_path}")
        if not report.committed:
            raise SystemExit(1)

    return command


def attach(cli) -> None:
    group = click.Group("import", help="Import customers or sales from CSV or XLSX.")
    group.add_command(_command("customers", CUSTOMERS))
    group.add_command(_command("sales", SALES))
    cli.add_command(group)
