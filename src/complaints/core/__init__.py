"""Plumbing every stage shares: typed params, atomic files, the stage entry point, threads and devices, the decision rule, plain metrics."""
