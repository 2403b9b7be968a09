"""Unit tests of the cloud hub (pure logic)."""
