"""Read-only attributes that an object forwards to its `config`."""
from __future__ import annotations

import operator


def config_field(name: str, doc: str | None = None) -> property:
    """A read-only property returning `self.config.<name>`: `fps = config_field("fps")`."""
    return property(operator.attrgetter(f"config.{name}"), doc=doc or f"`self.config.{name}`")
