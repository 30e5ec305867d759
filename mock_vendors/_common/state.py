"""The part every vendor backend shares: one JSON-native state, its lock and its version."""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from typing import Any, ClassVar

JSON_TYPE_NAMES: dict[type, str] = {dict: "object", list: "array", str: "string"}


class StateBackend:
    """A vendor's state as one JSON-native dict, so a dump is the state itself and a restore
    takes an edited dump verbatim. ``lock`` guards it (the request wrapper holds it around
    every call); ``version`` goes up with every mutation, which is what the response cache
    and derived indexes key on.

    A vendor names the top-level keys a dump must have, with their JSON type, in ``SHAPE``
    (``object`` for "any"), adds checks of its own in :meth:`check_state` and rebuilds what
    it derives from the state in :meth:`restored`.
    """

    SHAPE: ClassVar[Mapping[str, type]] = {}

    def __init__(self, state: dict[str, Any]) -> None:
        self.lock = threading.RLock()
        self.version = 0
        self.state = state

    def touch(self) -> None:
        """Record a mutation: answers and indexes built before it are not served again."""
        self.version += 1

    def dump(self) -> dict[str, Any]:
        """A deep copy of the state (secrets such as sessions and tokens live beside it)."""
        with self.lock:
            return copy.deepcopy(self.state)

    def restore(self, state: dict[str, Any]) -> None:
        """Replace the state with a dump once its shape holds; ValueError naming what is wrong."""
        self.check_shape(state)
        with self.lock:
            self.state = state
            self.touch()
            self.restored()

    def check_shape(self, state: Any) -> None:
        """The top-level keys of ``SHAPE`` with their types, then :meth:`check_state`."""
        if not isinstance(state, dict):
            raise ValueError("the state must be a JSON object")
        missing = [key for key in self.SHAPE if key not in state]
        if missing:
            raise ValueError(f"missing key(s): {', '.join(missing)}")
        for key, kind in self.SHAPE.items():
            if kind is not object and not isinstance(state[key], kind):
                raise ValueError(
                    f"'{key}' must be a JSON {JSON_TYPE_NAMES.get(kind, kind.__name__)}"
                )
        self.check_state(state)

    def check_state(self, state: dict[str, Any]) -> None:
        """Vendor checks beyond the top-level shape (none by default)."""

    def restored(self) -> None:
        """Rebuild whatever is derived from the state after a restore (nothing by default)."""
