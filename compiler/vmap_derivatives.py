"""vmap of derivative functions (filled in below)."""


def derivative_vmap(fn, in_axes, out_axes, backend, error_model):
    return None
