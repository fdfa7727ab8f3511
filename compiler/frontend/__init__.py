"""adjoin frontend."""
