"""Many signatures or envelopes at once: in this process, on every core, or on Dask.

    from esign.batch import verify_many, collect_items
    summary = verify_many(collect_items(["inbox/"]), trust=trust, out="results.jsonl")

One JSON line per item (the report's fields, plus ``path``); a bad item is a failed row,
never a crash; a rerun skips items already in the output. See docs/scale.md.
"""

from esign.batch.engine import BatchSummary, open_many, verify_many
from esign.batch.items import BatchItem, collect_items
from esign.batch.trustspec import TrustSpec

__all__ = ["BatchItem", "BatchSummary", "TrustSpec", "collect_items", "open_many", "verify_many"]
