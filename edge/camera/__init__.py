"""Face presence on the edge for isolation-facility rooms: capture, detection, per-room decisions.

Video never leaves the site: only counts, scores and events do (see edge/camera/README.md).
"""
