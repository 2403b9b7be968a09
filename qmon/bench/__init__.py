"""Benchmarks that print JSON: `qmon bench e2e`, `qmon bench ingest`."""
