"""qmon: quarantine monitoring from bracelet to ward officer (shared core and command line)."""

__version__ = "0.1.0"
