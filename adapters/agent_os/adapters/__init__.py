"""The agent side: ask the kernel before acting, from any framework."""

from typing import Any

from agent_os.kernel_worker import call_args

from ._client import KernelClient, governed

__all__ = ["DeskReviewDecisions", "KernelClient", "QueueReview", "call_args", "governed"]


def __getattr__(name: str) -> Any:
    # The CMVK review bridge needs the verifier (the cmvk extra): loaded when first named.
    if name == "QueueReview":
        from ._cmvk_review import QueueReview

        return QueueReview
    if name == "DeskReviewDecisions":
        from ._cmvk_wait import DeskReviewDecisions

        return DeskReviewDecisions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
