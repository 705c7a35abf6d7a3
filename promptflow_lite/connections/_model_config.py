"""Model configurations: promptflow's ``AzureOpenAIModelConfiguration`` and ``OpenAIModelConfiguration``.

Dataclasses with promptflow's fields and checks (``connection`` excludes explicit endpoint and
key fields), usable where promptflow uses them: flex flow init arguments and Prompty's
``model.configuration``. ``resolve_model_config`` turns an init value (dict or instance, maybe
naming a connection) into a ready instance; ``to_connection`` turns any Prompty configuration
(dict, instance or connection) into the connection to call. API keys never show in ``repr``.

promptflow_lite extras: a model configuration may name a connection of the other kind (an
Azure configuration on an ``open_ai`` connection calls its ``base_url`` as an OpenAI-compatible
endpoint), and an unset ``api_version`` keeps the connection default instead of failing.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

from promptflow_lite.connections._provider import as_provided, get_connection
from promptflow_lite.connections._types import AzureOpenAIConnection, Connection, OpenAIConnection
from promptflow_lite.connections._values import env_reference
from promptflow_lite.errors import UserError
from promptflow_lite.masking import register_secret

AZURE_TYPES = ("azure_openai", "azure_open_ai", "AzureOpenAI")
OPENAI_TYPES = ("openai", "open_ai", "OpenAI")


class InvalidModelConfiguration(UserError):
    """A model configuration is incomplete, contradictory or of the wrong kind."""


class ModelConfiguration:
    """Base of the model configuration dataclasses."""

    TYPE: ClassVar[str] = ""
    MODEL_FIELD: ClassVar[str] = ""

    @classmethod
    def from_connection(cls, connection: Connection, **kwargs: Any) -> "ModelConfiguration":
        raise NotImplementedError

    @property
    def _type(self) -> str:
        return self.TYPE

    @property
    def model_name(self) -> str | None:
        """The deployment (Azure) or model (OpenAI) the configuration calls."""
        return getattr(self, self.MODEL_FIELD)

    def _check_exclusive(self, *names: str) -> None:
        if self.connection and any(getattr(self, n) for n in names):  # type: ignore[attr-defined]
            raise InvalidModelConfiguration(
                "Cannot configure model config and connection at the same time.",
                hint=f"either name a connection, or give {', '.join(names)} - not both.")


@dataclass
class AzureOpenAIModelConfiguration(ModelConfiguration):
    """An Azure OpenAI deployment, given by endpoint and key, or by ``connection`` name."""

    azure_deployment: str
    azure_endpoint: str | None = None
    api_version: str | None = None
    api_key: str | None = field(default=None, repr=False)
    # connection and model configs are exclusive.
    connection: str | None = None

    TYPE: ClassVar[str] = "azure_open_ai"
    MODEL_FIELD: ClassVar[str] = "azure_deployment"

    def __post_init__(self) -> None:
        self._check_exclusive("azure_endpoint", "api_key", "api_version")
        register_secret(self.api_key)

    @classmethod
    def from_connection(cls, connection: Connection, azure_deployment: str) -> "AzureOpenAIModelConfiguration":
        """The configuration of ``azure_deployment`` on ``connection`` (an ``open_ai`` connection works too)."""
        return cls(azure_deployment=azure_deployment, azure_endpoint=_endpoint_of(connection),
                   api_version=getattr(connection, "configs", {}).get("api_version"),
                   api_key=_key_of(connection))


@dataclass
class OpenAIModelConfiguration(ModelConfiguration):
    """An OpenAI (or OpenAI-compatible) model, given by base_url and key, or by ``connection`` name."""

    model: str
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    organization: str | None = None
    # connection and model configs are exclusive.
    connection: str | None = None

    TYPE: ClassVar[str] = "open_ai"
    MODEL_FIELD: ClassVar[str] = "model"

    def __post_init__(self) -> None:
        self._check_exclusive("base_url", "api_key", "organization")
        register_secret(self.api_key)

    @classmethod
    def from_connection(cls, connection: Connection, model: str) -> "OpenAIModelConfiguration":
        """The configuration of ``model`` on ``connection`` (an Azure connection's ``api_base`` works too)."""
        return cls(model=model, base_url=_endpoint_of(connection), api_key=_key_of(connection),
                   organization=getattr(connection, "configs", {}).get("organization"))


MODEL_CONFIG_CLASSES: dict[str, type[ModelConfiguration]] = {
    cls.__name__: cls for cls in (AzureOpenAIModelConfiguration, OpenAIModelConfiguration)}


def _endpoint_of(connection: Connection) -> str | None:
    configs = getattr(connection, "configs", {})
    return configs.get("api_base") or configs.get("base_url") or configs.get("endpoint")


def _key_of(connection: Connection) -> str | None:
    return getattr(connection, "secrets", {}).get("api_key")


def model_config_class(annotation: Any) -> type[ModelConfiguration] | None:
    """The model configuration class an init parameter annotation names (class or string), else None."""
    name = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return MODEL_CONFIG_CLASSES.get(str(name).rsplit(".", 1)[-1])


def resolve_model_config(value: Any, cls: type[ModelConfiguration], connections: Any,
                         *, param: str = "model_config") -> ModelConfiguration:
    """``value`` (a dict or a ``cls`` instance) as a ready ``cls``; a named connection is expanded."""
    value = parse_model_config(value, cls, param=param)
    if not value.connection:  # type: ignore[attr-defined]
        return value
    name = value.connection  # type: ignore[attr-defined]
    connection = get_connection(name, connections, kind=connection_class_of(cls.TYPE))
    return cls.from_connection(connection, value.model_name)


def parse_model_config(value: Any, cls: type[ModelConfiguration], *, param: str = "model_config") -> Any:
    """``value`` (a dict or a ``cls`` instance) as a ``cls`` instance, its connection not fetched yet."""
    if isinstance(value, dict):
        try:
            value = cls(**value)
        except TypeError as exc:
            fields = ", ".join(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
            raise InvalidModelConfiguration(f"'{param}' is not a valid {cls.__name__}: {exc}.",
                                            hint=f"use the fields {fields}.") from None
    if not isinstance(value, cls):
        raise InvalidModelConfiguration(
            f"Model config value is not an instance of {cls.__name__}, got {type(value).__name__}.",
            hint=f"pass '{param}' as a mapping such as {{connection: my_connection, {cls.MODEL_FIELD}: ...}}.")
    return value


def connection_class_of(configuration_type: Any) -> type[Connection] | None:
    """The connection class a configuration ``type`` (``azure_openai`` / ``openai``) calls, if known."""
    if configuration_type in AZURE_TYPES:
        return AzureOpenAIConnection
    return OpenAIConnection if configuration_type in OPENAI_TYPES else None


# ---------------------------------------------------------------------------------------------
# Prompty: configuration → connection (promptflow's convert_model_configuration_to_connection)


def model_name(configuration: Any) -> str | None:
    """The model a Prompty configuration calls: ``azure_deployment`` or else ``model``."""
    if isinstance(configuration, ModelConfiguration):
        return configuration.model_name
    if isinstance(configuration, dict):
        return configuration.get("azure_deployment") or configuration.get("model")
    return None


def check_configuration(configuration: Any, where: str | None = None) -> None:
    """promptflow's check: a configuration dict names a connection *or* gives endpoint/key fields."""
    if not isinstance(configuration, dict) or not configuration.get("connection"):
        return
    explicit = [k for k, v in configuration.items()
                if k not in ("type", "connection", "model", "azure_deployment") and v]
    if explicit:
        raise InvalidModelConfiguration(
            "Cannot configure model config and connection in configuration at the same time.", file=where,
            hint=f"remove {', '.join(explicit)} or the connection from model.configuration.")


def to_connection(configuration: Any, connections: Any, where: str | None = None) -> Connection:
    """The connection a Prompty ``model.configuration`` (dict, model configuration or connection) calls.

    A named connection is fetched from ``connections`` and its own type wins over ``type``;
    otherwise ``type`` (``azure_openai`` / ``openai``) and the fields build one, ``${env:VAR}``
    values read from the environment; with no field but the model, the standard environment
    variables are used (``AZURE_OPENAI_ENDPOINT``/``AZURE_OPENAI_API_KEY``, ``OPENAI_API_KEY``...).
    """
    if isinstance(configuration, Connection):
        return configuration
    if isinstance(configuration, ModelConfiguration):
        kind, values = configuration.TYPE, dataclasses.asdict(configuration)  # type: ignore[call-overload]
        named = configuration.connection  # type: ignore[attr-defined]
    elif isinstance(configuration, dict):
        named = configuration.get("connection")
        if isinstance(named, Connection):
            return named
        values = {k: v for k, v in configuration.items() if k != "type"}
        kind = configuration.get("type")
    else:
        raise InvalidModelConfiguration(
            f"model.configuration must be a mapping or a model configuration, not {type(configuration).__name__}.",
            file=where, hint="write `configuration: {type: openai, model: ..., connection: ...}`.")
    if named:
        return get_connection(str(named), connections, kind=connection_class_of(kind))
    values = {k: _from_env(v) for k, v in values.items()}
    if kind in AZURE_TYPES:
        return as_provided(_azure_connection(values), connections)
    if kind in OPENAI_TYPES:
        return as_provided(_openai_connection(values), connections)
    raise InvalidModelConfiguration(
        f"Not Support connection type {kind} for model.configuration. "
        "Connection type should be in [azure_openai, openai].", file=where,
        hint="set model.configuration.type to azure_openai or openai, or name a connection.")


def _from_env(value: Any) -> Any:
    name = env_reference(value)
    return os.environ.get(name, value) if name else value


def _is_empty(values: dict[str, Any]) -> bool:
    return not {k for k, v in values.items() if v} - {"azure_deployment", "model", "connection"}


def _azure_connection(values: dict[str, Any]) -> AzureOpenAIConnection:
    if _is_empty(values):
        return AzureOpenAIConnection.from_env()
    fields = {"api_key": values.get("api_key"), "api_base": values.get("api_base") or values.get("azure_endpoint"),
              "api_version": values.get("api_version"), "api_type": values.get("api_type")}
    return AzureOpenAIConnection(**{k: v for k, v in fields.items() if v})


def _openai_connection(values: dict[str, Any]) -> OpenAIConnection:
    if _is_empty(values):
        return OpenAIConnection.from_env()
    fields = {k: values.get(k) for k in ("api_key", "base_url", "organization")}
    return OpenAIConnection(**{k: v for k, v in fields.items() if v})


__all__ = ["ModelConfiguration", "AzureOpenAIModelConfiguration", "OpenAIModelConfiguration",
           "MODEL_CONFIG_CLASSES", "InvalidModelConfiguration", "model_config_class", "resolve_model_config",
           "parse_model_config", "connection_class_of", "model_name", "check_configuration", "to_connection"]
