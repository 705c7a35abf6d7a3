"""What a flow *is*: models, loading, references, variants and validation (no execution)."""
