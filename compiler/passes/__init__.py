"""adjoin passes."""
