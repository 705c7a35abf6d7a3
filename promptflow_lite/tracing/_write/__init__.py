"""The write path of the executor's spans: hooks → frames → sink → writer process → rows in the store.

Why it is built this way: a line of a pure-python flow costs tens of microseconds per node, and an
OpenTelemetry SDK span costs about 25 µs to create and end - tracing every node through the SDK would
more than double a batch run. So the engine's hooks (:mod:`.executor`: a call per line, none per node
of a DAG line) only note ids; a finished line becomes one frame (:mod:`.frames`) that reuses the line's journal record
(``LineResult.to_json``: the line is encoded once for the journal and the trace); the sink
(:mod:`.sink`) hands frames in batches to a writer in another process (:mod:`.writer`), which renders
the spans (:mod:`.line_spans`) and writes one row per line in one transaction per batch, on another
core. Measured with ``benchmarks/run.py --suite tracing``: tracing on costs about 7 % of the
throughput of the 5,000-line chain. Model-call and ``@trace`` spans are rare and go through the SDK
(``tracing._model_calls``, ``tracing._api``); the read side is ``tracing._store`` / ``tracing._query``.
A worker running another process's lines (the Ray engine) keeps its frames and spans in a relay
(:mod:`.relay`) instead, which its driver replays into its own sink.
"""
