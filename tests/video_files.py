# Copyright (c) OpenMMLab. All rights reserved.
"""Tiny video files for the tests of the tools."""
from pathlib import Path

import cv2
import numpy as np


def write_video(path: Path, frames: np.ndarray, fps: float = 10) -> Path:
    """Write RGB uint8 frames (T, H, W, 3) as an MJPG avi."""
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps, (width, height))
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path
