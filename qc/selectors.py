"""Read-only queries of QC that the batches app may use (the release gate)."""
