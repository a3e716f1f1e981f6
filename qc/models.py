"""QC models (specifications, samples, results, deviations)."""
