"""Stage 2, measure: taking the figures, judging none of them.

Enters: connections, datasets and callables from `perfkit.data`.
Leaves: raw measurements: latency samples (interleaved, on pooled connections), the plans that ran,
memory of one call (memray and RSS, in fresh processes), parity rows, load runs, and the
statistics computed from samples (percentiles, intervals, fits).
Imports only `perfkit.data` and the kit's foundations (`errors`, `paths`). Kept light on purpose: the
memory probe and the load server are modules of this stage run as child processes.
"""
