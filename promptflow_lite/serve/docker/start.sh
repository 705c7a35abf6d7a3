#!/bin/sh
# Serve the flow in ./flow with promptflow_lite ${version} (written by `pfl flow build`).
#   PORT (8080), HOST (0.0.0.0), PROMPTFLOW_WORKER_NUM (the number of CPUs): where and how many processes;
#   PFL_SERVE_API_KEY: the key clients send as 'Authorization: Bearer <key>' (set it!);
#   <CONNECTION>_<KEY>: the connections' secrets (see settings.json); PFL_HOME: where connections are kept.
#   OTEL_EXPORTER_OTLP_ENDPOINT: where to send traces; PFL_SERVE_TRACE_STORE=1: also keep them in PFL_HOME.
set -eu
cd "$$(dirname "$$0")"

for file in connections/*.yaml; do
    [ -e "$$file" ] || continue
    pfl connection create --file "$$file" > /dev/null
done

exec pfl flow serve ${serve_args} \
    --host "$${HOST:-0.0.0.0}" --port "$${PORT:-8080}" \
    --workers "$${PROMPTFLOW_WORKER_NUM:-$$(nproc 2>/dev/null || echo 1)}"
