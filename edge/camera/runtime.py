"""onnxruntime sessions built one way for every model: CPU, a fixed number of threads, quiet logs."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort


def create_session(model_path: Path, threads: int = 1) -> ort.InferenceSession:
    """A CPU inference session using `threads` intra-op threads and no inter-op parallelism.

    One thread per model by default: an edge box runs several cameras, and one thread per camera worker
    scales better than every session competing for all cores.
    """
    if threads < 1:
        raise ValueError("threads must be at least 1")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only: no per-run shape chatter in the agent's log
    # Spinning worker threads burn CPU between frames; with a few frames per second they only cost.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
