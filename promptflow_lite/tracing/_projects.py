"""Which project a span belongs to: the collection of its line, as other trace viewers group by it.

The local store groups traces by ``collection``: the flow's name, unless ``pfl flow test
--collection`` or ``start_trace(collection=...)`` names one. A line span carries it as an
attribute; :class:`CollectionStamp` copies it onto the SDK spans started inside a line (model
calls, ``@trace`` functions, and their children). Over OTLP, :class:`ProjectResources` gives
each span the resource of its project: Arize Phoenix files spans by ``openinference.project.name``,
Jaeger and Tempo by ``service.name`` - unless the user named them (``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``resource_attributes``).
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, SpanProcessor

from promptflow_lite.tracing._context import current_holder
from promptflow_lite.tracing._names import COLLECTION, DEFAULT_PROJECT, PROJECT_NAME, SERVICE_NAME



class CollectionStamp(SpanProcessor):
    """Gives an SDK span started inside a line (or under a span that has one) its ``collection``."""

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        holder = current_holder.get()
        collection = getattr(holder, "collection", None)
        if collection is None and holder is None:
            from opentelemetry import trace

            attributes = getattr(trace.get_current_span(parent_context), "attributes", None)
            collection = attributes.get(COLLECTION) if attributes else None
        if collection is not None:
            span.set_attribute(COLLECTION, collection)


class ProjectResources:
    """The resource a span is exported with: ``base`` with the span's project as
    ``openinference.project.name`` and ``service.name``, except for those in ``user_named``."""

    def __init__(self, base: Resource, user_named: set[str] | frozenset[str] = frozenset()):
        self.base = base
        self.keys = [key for key in (PROJECT_NAME, SERVICE_NAME) if key not in user_named]
        self._made: dict[str, Resource] = {}
        self._lock = threading.Lock()

    def project(self, attributes: Mapping[str, Any] | None) -> str:
        """The span's collection, else the process's, else ``promptflow_lite``."""
        return str((attributes or {}).get(COLLECTION) or self.base.attributes.get(COLLECTION) or DEFAULT_PROJECT)

    def resource(self, attributes: Mapping[str, Any] | None) -> Resource:
        if not self.keys:
            return self.base
        project = self.project(attributes)
        made = self._made.get(project)
        if made is None:
            with self._lock:
                made = self._made[project] = self.base.merge(Resource({key: project for key in self.keys}))
        return made
