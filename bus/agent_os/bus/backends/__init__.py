"""Bus backends, one per module, imported lazily by ``connect``."""
