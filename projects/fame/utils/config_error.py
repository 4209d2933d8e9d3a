# Copyright (c) OpenMMLab. All rights reserved.
from contextlib import contextmanager
from typing import Iterator


class ConfigError(ValueError):
    """An invalid config value; the message starts with its key, relative to
    the raising module, which :func:`config_scope` prefixes into the full
    key, e.g. ``model.data_preprocessor.fame.beta``.

    Args:
        key (str): The config key, relative to the raising module.
        message (str): What is wrong and what would be right.
    """

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f'{key} {message}')
        self.key = key
        self.message = message

    def __reduce__(self):
        # Unpickled (e.g. from a dataloader worker) with both arguments.
        return type(self), (self.key, self.message)


class BadVideoError(RuntimeError):
    """A video that cannot give a clip; the message names the file."""


@contextmanager
def config_scope(prefix: str) -> Iterator[None]:
    """Prefix the key of any :class:`ConfigError` raised inside.

    Args:
        prefix (str): The config key of the module being built inside.
    """
    try:
        yield
    except ConfigError as err:
        raise ConfigError(f'{prefix}.{err.key}', err.message) from None
