"""A stand-alone fake of The SMS Works API for demos, browser tests and benchmarks.

Run it with ``python -m simulator``; see simulator/README.md. It shares no code
or tables with the platform (no Django here).
"""
