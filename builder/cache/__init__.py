"""The layer cache: step keys, their recorded layers, and the context stat cache."""
