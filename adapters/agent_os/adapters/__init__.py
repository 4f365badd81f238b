"""The agent side: ask the kernel before acting, from any framework."""

from agent_os.kernel_worker import call_args

from ._client import KernelClient, governed

__all__ = ["KernelClient", "call_args", "governed"]
