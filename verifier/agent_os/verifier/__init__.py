"""Cross-model verification (CMVK): not built yet.

The consensus verifier and its worker pool are planned; nothing here is
usable today, and nothing pretends to be.
"""

__all__: list[str] = []
