"""The encoder's traced graph kept on disk, so a fresh process skips load, quantize and trace.

After the exemplar vectors (see `semantic.store`), building the encoder is the largest
part of a cold start's own work: the weights read into an eager model, its linear
layers quantized, the transformer traced and frozen. The frozen graph is saved once and
loaded after that; it runs the same operators on the same weights, so its vectors are
the traced one's to the last bit. The file is named by the weights file (path, size,
modification time), the quantization scheme and the torch version; one that does not
load is logged and traced again. TorchScript holds code as well as weights, so it is
read only from the user's own cache folder, which is made private to them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any

from supervisor.cache import cache_dir

FORMAT = "supervisor-encoder-graph/1"

log = logging.getLogger("supervisor.encoder")


def graph_file(weights: Path, scheme: str) -> Path:
    """Where the graph traced from these weights with this scheme is kept."""
    import torch

    stat = weights.stat()
    body = json.dumps([FORMAT, scheme, torch.__version__, str(weights.resolve()), stat.st_size,
                       stat.st_mtime_ns])
    return cache_dir("encoder") / f"{hashlib.sha256(body.encode()).hexdigest()[:32]}.pt"


def read_graph(path: Path) -> Any | None:
    """The saved graph, or None when there is none or it does not load."""
    import torch

    if not path.is_file():
        return None
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated, as in `embedding._trace`
            warnings.simplefilter("ignore", DeprecationWarning)
            return torch.jit.load(str(path), map_location="cpu")  # type: ignore[no-untyped-call]  # unannotated
    except (RuntimeError, OSError, ValueError) as exc:
        log.warning("the traced encoder in %s does not load (%s); tracing it again", path, exc)
        return None


def write_graph(path: Path, graph: Any) -> None:
    """Save the graph atomically; a folder that cannot be written is logged, not raised."""
    import torch

    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(graph, str(temporary))
        os.replace(temporary, path)
    except (OSError, RuntimeError) as exc:
        log.warning("could not keep the traced encoder in %s (%s)", path, exc)
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
