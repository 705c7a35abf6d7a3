"""What happened: OpenTelemetry spans for flows, nodes and model calls, stored locally."""
