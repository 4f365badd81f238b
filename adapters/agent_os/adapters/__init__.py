"""The agent side: ask the kernel before acting, from any framework."""

from ._client import KernelClient, call_args, governed

__all__ = ["KernelClient", "call_args", "governed"]
