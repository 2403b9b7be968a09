"""Integration tests of the cloud hub against real databases and brokers."""
