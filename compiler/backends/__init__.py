"""adjoin backends."""
