"""How a flow runs: the DAG plan, the async line scheduler, flex and prompty entries, aggregation."""
