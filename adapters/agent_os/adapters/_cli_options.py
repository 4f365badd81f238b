"""Options shared by the ``agent-os`` commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = ["path_option"]

_F = TypeVar("_F", bound=Callable[..., Any])


def path_option(*decls: str, help: str, **settings: Any) -> Callable[[_F], _F]:
    """A file option read as a :class:`~pathlib.Path`; ``settings`` go to :func:`click.option`."""
    return click.option(*decls, type=click.Path(path_type=Path), help=help, **settings)
