"""Everything from a parsed Dockerfile to an image: instructions, planning, cache, store, CLI."""
