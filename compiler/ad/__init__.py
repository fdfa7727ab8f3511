"""adjoin ad."""
