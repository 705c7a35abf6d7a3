"""``POST /feedback``: the body becomes a ``promptflow-feedback`` span in the caller's trace (FLOW_FORMAT §7.2)."""

from __future__ import annotations

import json
import logging
from typing import Any, Mapping

SPAN_NAME = "promptflow-feedback"
FIELD = "feedback"
_log = logging.getLogger(__name__)


def record_feedback(body: str, headers: Mapping[str, str], *, flatten: bool = False) -> bool:
    """Record ``body`` on a span under the W3C ``traceparent`` of ``headers`` (``flatten``: one
    attribute per key of a JSON object); ``baggage`` entries become attributes too. Returns False
    when tracing is off (nothing to record into)."""
    from opentelemetry import baggage
    from opentelemetry.baggage.propagation import W3CBaggagePropagator

    from promptflow_lite.tracing._setup import continue_trace, tracer

    otel_tracer = tracer()
    if otel_tracer is None:
        return False
    with continue_trace(headers), otel_tracer.start_as_current_span(SPAN_NAME) as span:
        for key, value in _attributes(body, flatten).items():
            span.set_attribute(key, value)
        carrier = {str(k).lower(): v for k, v in headers.items()}
        for key, value in baggage.get_all(W3CBaggagePropagator().extract(carrier)).items():
            span.set_attribute(key, _attribute_value(value))
    return True


def _attributes(body: str, flatten: bool) -> dict[str, Any]:
    if flatten:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return {str(k): _attribute_value(v) for k, v in data.items()}
        _log.warning("Feedback is not a JSON object; recorded unflattened.")
    return {FIELD: body}


def _attribute_value(value: Any) -> Any:
    """OpenTelemetry takes str/bool/int/float (or lists of one of them); anything else goes as JSON."""
    if isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, list) and all(isinstance(v, (str, bool, int, float)) for v in value) \
            and len({type(v) for v in value}) <= 1:
        return value
    return json.dumps(value, ensure_ascii=False, default=str)
