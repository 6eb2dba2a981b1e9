"""Write frames to an MP4 atomically (imageio + its bundled ffmpeg)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from handspec.atomic import atomic_output


def write_video(frames: Sequence[np.ndarray], out: str | Path, fps: int = 20) -> Path:
    import imageio.v2 as imageio

    out = Path(out)
    with atomic_output(out) as tmp:
        with imageio.get_writer(tmp, fps=fps, codec="libx264", quality=7,
                                macro_block_size=8, ffmpeg_log_level="error") as writer:
            for frame in frames:
                writer.append_data(np.asarray(frame, dtype=np.uint8))
    return out
