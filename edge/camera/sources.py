"""Camera source addresses: a video file path, a stream URL (rtsp://, http://) or a V4L2 device index."""

from __future__ import annotations


def parse_source(value: str | int) -> str | int:
    """A V4L2 index given as text ("0") becomes an int; paths and URLs stay text."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def is_live(source: str | int) -> bool:
    """Whether a source is a device or a network stream (not a file)."""
    return isinstance(source, int) or "://" in source


def describe_source(source: str | int) -> str:
    """The source for logs, without the user and password an RTSP URL may carry."""
    if isinstance(source, int):
        return f"/dev/video{source}"
    scheme, sep, rest = source.partition("://")
    if not sep:
        return source
    return f"{scheme}://{rest.rpartition('@')[2]}"
