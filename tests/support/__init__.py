"""Test infrastructure: private real services started per test."""
