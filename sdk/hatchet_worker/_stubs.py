"""``hatchet.stubs``: declarations of workflows and tasks that run elsewhere, to trigger them by name.

A service that only triggers a task another codebase's worker runs declares it here, with the
validators that type its input and output, instead of importing that codebase. As in the official
SDK, a stub is an ordinary declaration (``hatchet.workflow`` / ``hatchet.task``) whose task body
raises if it were ever run: register stubs on no worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from hatchet_worker.workflow import EmptyModel, Standalone, Workflow

if TYPE_CHECKING:
    from hatchet_worker.client import Hatchet


class StubsClient:
    def __init__(self, client: Hatchet) -> None:
        self.client = client

    def workflow(self, *, name: str, input_validator: type[Any] | None = None,
                 default_additional_metadata: Mapping[str, Any] | None = None) -> Workflow[Any]:
        return self.client.workflow(name=name, input_validator=input_validator,
                                    default_additional_metadata=default_additional_metadata)

    def task(self, *, name: str, input_validator: type[Any] | None = None, output_validator: type[Any] | None = None,
             default_additional_metadata: Mapping[str, Any] | None = None) -> Standalone[Any, Any]:
        def stub(input: Any, ctx: Any) -> Any:
            raise NotImplementedError(f"{name} is a stub: its task runs on another codebase's worker")

        # The declared output type is what run()/result() validate the task's output into.
        stub.__annotations__ = {"input": Any, "ctx": Any,
                                "return": output_validator if output_validator is not None else EmptyModel}
        return self.client.task(name=name, input_validator=input_validator,
                                default_additional_metadata=default_additional_metadata)(stub)
