"""Inventory's rules as plain functions on a session, one module per concern:
`ledger` (moves, levels, the below-zero rule, safety-stock alerts), `stock` (reading levels and
moves, per-product settings), `purchasing` (suggestions, suppliers, purchase orders, email),
`stocktake`, `transfers`, `analysis` and `demo`."""
