# Copyright (c) OpenMMLab. All rights reserved.
"""Fixtures shared by test modules of several folders."""
import logging
from pathlib import Path
from typing import Iterator, List

import pytest
from mmengine.logging import MMLogger

from tools.data.motion_dataset import generate


class WarningRecords(logging.Handler):
    """Keeps the messages of warnings and worse."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: List[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def warnings_log() -> Iterator[List[str]]:
    """Messages of the warnings MMEngine's current logger gives meanwhile.

    An MMLogger is no child of the root logger, so ``caplog`` misses them.
    """
    logger = MMLogger.get_current_instance()
    handler = WarningRecords()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


@pytest.fixture(scope='module')
def tiny_motion(tmp_path_factory) -> Path:
    """The tiny motion dataset (16 pretraining videos), one per module."""
    root = tmp_path_factory.mktemp('motion')
    generate(str(root), size='tiny', seed=0, progress=False)
    return root
