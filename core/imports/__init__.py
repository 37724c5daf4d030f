"""Importing customers and sales from CSV and XLSX.

Files are streamed row by row (csv, openpyxl read-only), written in batches, and every rejected
row is reported with its line, field and reason. A run either commits its valid rows and
reports the rest, or, all-or-nothing, commits nothing when any row is rejected.

`readers` opens a file as (headers, rows); `columns` maps Chinese or English headers to fields
and parses cell values; `customers` and `sales` apply one row each; `runner` drives a run."""
