from promptflow.connections import CustomConnection
from promptflow.core import tool


@tool
def inspect_custom(connection: CustomConnection, key: str) -> dict:
    as_dict = dict(connection)
    return {
        "class": type(connection).__name__,
        "keys": sorted(as_dict),
        "configs": dict(connection.configs),
        "secret_names": sorted(connection.secrets),
        "lookup": connection[key] if key in as_dict else None,
        "attribute": connection.key1,
        "is_secret": {k: connection.is_secret(k) for k in sorted(as_dict)},
    }
