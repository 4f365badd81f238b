"""Govern the agents people already build: LangChain / LangGraph, CrewAI, OpenAI, MCP.

Every tool call a framework makes becomes a governed action, judged by a
local or remote kernel before the tool body runs::

    from agent_os.integrations import LangChainKernel
    governed_agent = LangChainKernel().wrap(agent_executor)
    result = governed_agent.invoke({"input": "analyze this data"})

The framework kernels load lazily: importing this package needs no framework,
and naming a kernel whose framework is missing raises :class:`MissingExtra`
with the extra to install.
"""

from __future__ import annotations

import importlib
from typing import Any

from ._bridge import EventLoopThread
from ._core import KernelArg, OnDeny, ToolCall, ToolGovernor, annotations_of
from ._errors import IntegrationError, LoopBlocked, MissingExtra, UnsupportedObject

# The framework modules are not imported here, not even for type checkers: each
# is type-checked in its framework's own environment.

__all__ = [
    "AssistantsUnavailable",
    "AsyncGovernedAssistant",
    "CrewAIKernel",
    "EventLoopThread",
    "GovernedAgent",
    "GovernedAssistant",
    "GovernedCrew",
    "GovernedMCPProxy",
    "IntegrationError",
    "KernelArg",
    "LangChainKernel",
    "LoopBlocked",
    "MissingExtra",
    "OnDeny",
    "OpenAIKernel",
    "TooManyTurns",
    "ToolCall",
    "ToolGovernor",
    "UnsupportedObject",
    "annotations_of",
]

#: Lazily imported names: (module, extra that installs its framework, framework package).
_LAZY = {
    "LangChainKernel": ("._langchain", "langchain", "langchain"),
    "GovernedMCPProxy": ("._mcp_proxy", "mcp", "mcp"),
    "CrewAIKernel": ("._crewai", "crewai", "crewai"),
    "GovernedCrew": ("._crewai", "crewai", "crewai"),
    "GovernedAgent": ("._crewai", "crewai", "crewai"),
    "OpenAIKernel": ("._openai", "openai", "openai"),
    "GovernedAssistant": ("._openai", "openai", "openai"),
    "AsyncGovernedAssistant": ("._openai", "openai", "openai"),
    "AssistantsUnavailable": ("._openai", "openai", "openai"),
    "TooManyTurns": ("._openai", "openai", "openai"),
}


def __getattr__(name: str) -> Any:
    entry = _LAZY.get(name)
    if entry is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module_name, extra, package = entry
    try:
        module = importlib.import_module(module_name, __name__)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.startswith("agent_os"):
            raise  # our own module is missing: a packaging bug, not a missing extra
        raise MissingExtra.for_extra(extra, package) from exc
    value = getattr(module, name)
    globals()[name] = value
    return value
