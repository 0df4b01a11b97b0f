"""Issue 7's measurements: the verification matrix against its physical limits.

`nox -s bench` (or `python -m benchmarks`) runs them all and writes BENCHMARKS.md. Each
measurement that depends on process-wide state (the verifier's logging level, environment
variables, imports) runs in a fresh subprocess (`benchmarks.worker`), so one measurement
cannot warm or slow another.
"""
