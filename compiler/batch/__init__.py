"""Batching (vmap): an IR -> IR transform that runs a function of one lane for many.

`context.BatchContext` builds batched functions; `transform` walks a function,
`rules` holds one batching rule per op, `control` batches branches, loops and calls,
`lanes` the bookkeeping of which values carry the batch axis.
"""
