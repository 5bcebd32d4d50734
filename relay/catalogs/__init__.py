"""Catalogs (SPEC §13): reference data sent by accounting and synced by terminals by version.

- ``config``: the CATALOG_* settings, read once;
- ``items``: what an item of each known catalog may hold (marshmallow), and its barcodes;
- ``changes``: merge, delete and mirror applied as one new catalog version under the catalog's
  row lock;
- ``uploads``: big catalogs in numbered packets, committed at once;
- ``deltas``: what terminals read: the list of catalogs, the changes since a version, by page;
- ``barcodes``: a scanned barcode resolved to its product (with the packaging) or cell;
- ``browse``: what the admin console shows: figures, items by page, an item, a barcode's items;
- ``maintenance``: the worker's purge of old tombstones and expired uploads.
"""
