"""Connection classes: promptflow's data-plane connections, same constructors and behaviour.

A connection holds ``configs`` (plain settings) and ``secrets`` (keys); both are reachable as
attributes (``conn.api_key``), by item (``conn["api_base"]``) and through the mapping protocol
(``dict(conn)``, ``**conn``), as flow code written for promptflow expects. A connection's secret
values are registered for masking (:mod:`promptflow_lite.masking`) as soon as it is built.
"""

from __future__ import annotations

import os
import re
from typing import Any, ClassVar

from promptflow_lite.masking import register_connection, register_secret

STRONG_TYPE_PREFIX = "promptflow.connection."
"""Configs ``promptflow.connection.custom_type|module|package|package_version`` mark a stored strong type."""


class Secret(str):
    """A string annotation marking a secret field of a custom strong-type connection."""


class Connection:
    """Base class: ``name``, ``type``, ``configs`` and ``secrets``.

    Subclasses declare ``CONFIGS`` (field → default) and ``SECRETS`` (field names) and the YAML
    ``TYPE`` (``open_ai``, ``azure_open_ai``...).
    """

    TYPE: ClassVar[str] = ""
    CONFIGS: ClassVar[dict[str, Any]] = {}
    SECRETS: ClassVar[tuple[str, ...]] = ()
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, name: str | None = None, configs: dict | None = None, secrets: dict | None = None, **fields: Any):
        self.__dict__["name"] = name
        self.__dict__["configs"] = dict(configs or {})
        self.__dict__["secrets"] = dict(secrets or {})
        for key, default in self.CONFIGS.items():
            self.configs.setdefault(key, default)
        for key, value in fields.items():
            (self.secrets if key in self.SECRETS else self.configs)[key] = value
        for key in self.SECRETS:
            self.secrets.setdefault(key, None)
        register_connection(self)

    @property
    def type(self) -> str:
        return self.TYPE

    # attribute, item and mapping access -------------------------------------------------
    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        for store in (self.__dict__["secrets"], self.__dict__["configs"]):
            if key in store:
                return store[key]
        raise AttributeError(f"{type(self).__name__} '{self.name}' has no field '{key}'")

    def __setattr__(self, key: str, value: Any) -> None:
        if key in ("name",):
            self.__dict__[key] = value
        elif key in self.secrets or key in self.SECRETS:
            self.secrets[key] = value
            register_secret(value)
        else:
            self.configs[key] = value

    def keys(self) -> list[str]:
        return list(self.configs) + list(self.secrets)

    def __getitem__(self, key: str) -> Any:
        if key in self.secrets:
            return self.secrets[key]
        if key in self.configs:
            return self.configs[key]
        raise KeyError(key)

    def __iter__(self):
        return iter(self.keys())

    def __contains__(self, key: object) -> bool:
        return key in self.configs or key in self.secrets

    def is_secret(self, key: str) -> bool:
        return key in self.secrets

    def copy(self) -> "Connection":
        """A copy whose ``configs`` and ``secrets`` can change without touching this one."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.__dict__["configs"] = dict(self.configs)
        clone.__dict__["secrets"] = dict(self.secrets)
        return clone

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and other.name == self.name  # type: ignore[attr-defined]
            and other.configs == self.configs  # type: ignore[attr-defined]
            and other.secrets == self.secrets  # type: ignore[attr-defined]
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, configs={self.configs!r}, secrets=<{len(self.secrets)} hidden>)"

    def to_dict(self, *, mask: bool = True) -> dict[str, Any]:
        """The YAML form (``name``, ``type``, fields); secrets shown as ``******`` unless ``mask=False``."""
        shown = {k: ("******" if mask and v else v) for k, v in self.secrets.items()}
        return {"name": self.name, "type": self.TYPE, **self.configs, **shown}


class AzureOpenAIConnection(Connection):
    """Azure OpenAI; ``api_base`` may also be any OpenAI-compatible endpoint."""

    TYPE = "azure_open_ai"
    CONFIGS = {"api_base": None, "api_type": "azure", "api_version": "2024-02-01", "auth_mode": "key", "resource_id": None}
    SECRETS = ("api_key",)
    REQUIRED = ("api_base",)

    def __init__(self, api_key: str | None = None, api_base: str | None = None, api_type: str = "azure",
                 api_version: str = "2024-02-01", auth_mode: str = "key", name: str | None = None, **kwargs: Any):
        super().__init__(name=name, api_key=api_key, api_base=api_base, api_type=api_type,
                         api_version=api_version, auth_mode=auth_mode, **kwargs)

    @classmethod
    def from_env(cls, name: str | None = None) -> "AzureOpenAIConnection":
        return cls(api_key=os.getenv("AZURE_OPENAI_API_KEY"), api_base=os.getenv("AZURE_OPENAI_ENDPOINT"),
                   api_version=os.getenv("OPENAI_API_VERSION", "2024-02-01"), name=name)


class OpenAIConnection(Connection):
    """OpenAI or any OpenAI-compatible server (``base_url``)."""

    TYPE = "open_ai"
    CONFIGS = {"organization": None, "base_url": None}
    SECRETS = ("api_key",)

    def __init__(self, api_key: str | None = None, organization: str | None = None, base_url: str | None = None,
                 name: str | None = None, **kwargs: Any):
        if base_url in ("", "_"):
            base_url = None
        super().__init__(name=name, api_key=api_key, organization=organization, base_url=base_url, **kwargs)

    @classmethod
    def from_env(cls, name: str | None = None) -> "OpenAIConnection":
        return cls(api_key=os.getenv("OPENAI_API_KEY"), base_url=os.getenv("OPENAI_BASE_URL"),
                   organization=os.getenv("OPENAI_ORG_ID"), name=name)


class ServerlessConnection(Connection):
    """A serverless (MaaS) endpoint; LLM nodes treat it as OpenAI at ``api_base + /v1``."""

    TYPE = "serverless"
    CONFIGS = {"api_base": None}
    SECRETS = ("api_key",)
    REQUIRED = ("api_base",)

    def __init__(self, api_key: str | None = None, api_base: str | None = None, name: str | None = None, **kwargs: Any):
        super().__init__(name=name, api_key=api_key, api_base=api_base, **kwargs)


def _simple(cls_name: str, type_name: str, configs: dict[str, Any], doc: str) -> type[Connection]:
    """A connection class whose constructor takes ``api_key`` and the given config fields."""

    def __init__(self, api_key: str | None = None, name: str | None = None, **kwargs: Any):
        Connection.__init__(self, name=name, api_key=api_key, **kwargs)

    return type(cls_name, (Connection,), {
        "__doc__": doc, "__init__": __init__, "TYPE": type_name, "CONFIGS": configs, "SECRETS": ("api_key",),
    })


SerpConnection = _simple("SerpConnection", "serp", {}, "SerpAPI web search.")
CognitiveSearchConnection = _simple(
    "CognitiveSearchConnection", "cognitive_search",
    {"api_base": None, "api_version": "2023-11-01", "auth_mode": "key"}, "Azure AI Search.")
AzureContentSafetyConnection = _simple(
    "AzureContentSafetyConnection", "azure_content_safety",
    {"endpoint": None, "api_version": "2023-10-01", "api_type": "Content Safety"}, "Azure Content Safety.")
FormRecognizerConnection = _simple(
    "FormRecognizerConnection", "form_recognizer",
    {"endpoint": None, "api_version": "2023-07-31", "api_type": "Form Recognizer"}, "Azure Form Recognizer.")
AzureAIServicesConnection = _simple(
    "AzureAIServicesConnection", "azure_ai_services", {"endpoint": None, "auth_mode": "key"}, "Azure AI Services.")
QdrantConnection = _simple("QdrantConnection", "qdrant", {"api_base": None}, "Qdrant vector database.")
WeaviateConnection = _simple("WeaviateConnection", "weaviate", {"api_base": None}, "Weaviate vector database.")


class CustomConnection(Connection):
    """Free-form ``configs`` and ``secrets``; fields are also attributes (``conn.key1``)."""

    TYPE = "custom"

    def __init__(self, secrets: dict | None = None, configs: dict | None = None, name: str | None = None, **kwargs: Any):
        super().__init__(name=name, configs=configs, secrets=secrets)
        for key in ("custom_type", "module", "package", "package_version"):
            if kwargs.get(key):
                self.__dict__[key] = kwargs[key]

    def __setattr__(self, key: str, value: Any) -> None:
        if key in self.secrets:
            self.secrets[key] = value
        elif key == "name":
            self.__dict__[key] = value
        else:
            self.configs[key] = value

    def to_dict(self, *, mask: bool = True) -> dict[str, Any]:
        """The YAML form: ``configs`` and ``secrets`` nested; strong-type keys (``custom_type``...) on top."""
        configs = {k: v for k, v in self.configs.items() if not k.startswith(STRONG_TYPE_PREFIX)}
        strong = {k[len(STRONG_TYPE_PREFIX):]: v for k, v in self.configs.items()
                  if k.startswith(STRONG_TYPE_PREFIX) and v}
        secrets = {k: ("******" if mask and v else v) for k, v in self.secrets.items()}
        return {"name": self.name, "type": self.TYPE, **strong, "configs": configs, "secrets": secrets}

    def _is_custom_strong_type(self) -> bool:
        return bool(self.configs.get(STRONG_TYPE_PREFIX + "custom_type"))

    def _convert_to_custom_strong_type(self, module: Any = None, to_class: Any = None) -> "CustomStrongTypeConnection":
        """This stored custom connection as an instance of a user's strong-type class.

        ``to_class`` is the class itself, or a class name found in ``module`` (a module or its
        name). Without them, the ``custom_type`` / ``module`` recorded when the connection was
        created from a strong-type YAML are used. ``_convert_to_custom_strong_type(MyConn)`` works too.
        """
        import importlib

        if isinstance(module, type) and to_class is None:
            module, to_class = None, module
        if isinstance(to_class, type):
            cls = to_class
        elif isinstance(to_class, str) and to_class == type(self).__name__:
            return self  # type: ignore[return-value]
        else:
            stored_type = self.configs.get(STRONG_TYPE_PREFIX + "custom_type")
            stored_module = self.configs.get(STRONG_TYPE_PREFIX + "module")
            if stored_type and stored_module:
                module, to_class = stored_module, stored_type
            if not (isinstance(to_class, str) and module is not None):
                raise ValueError(f"Cannot convert connection '{self.name}' to a custom strong type: "
                                 f"invalid module or class: {module!r}, {to_class!r}.")
            found = importlib.import_module(module) if isinstance(module, str) else module
            cls = getattr(found, to_class)
        if isinstance(self, cls):
            return self  # type: ignore[return-value]
        return cls(name=self.name, configs=dict(self.configs), secrets=dict(self.secrets))


class CustomStrongTypeConnection(CustomConnection):
    """Base for typed custom connections: subclass with annotations (``api_key: Secret``)."""

    def __init__(self, secrets: dict | None = None, configs: dict | None = None, name: str | None = None, **fields: Any):
        secrets, configs = dict(secrets or {}), dict(configs or {})
        for key, annotation in self._fields().items():
            secret = _is_secret_annotation(annotation)
            if key in fields:
                value = fields.pop(key)
            elif key in (configs if secret else secrets):  # stored in the other bucket: move it
                value = (configs if secret else secrets).pop(key)
            else:
                continue
            (secrets if secret else configs)[key] = value
        super().__init__(secrets=secrets, configs=configs, name=name, **fields)

    def __getattribute__(self, key: str) -> Any:
        # A stored value wins over a class-level default (``api_base: str = "..."``).
        if not key.startswith("_") and key not in ("configs", "secrets", "name"):
            values = object.__getattribute__(self, "__dict__")
            if key in type(self)._fields():
                for store in (values["secrets"], values["configs"]):
                    if key in store:
                        return store[key]
        return object.__getattribute__(self, key)

    @classmethod
    def _fields(cls) -> dict[str, Any]:
        annotations: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            if issubclass(klass, CustomStrongTypeConnection) and klass is not CustomStrongTypeConnection:
                annotations.update(getattr(klass, "__annotations__", {}))
        return annotations


def _is_secret_annotation(annotation: Any) -> bool:
    return annotation is Secret or annotation == "Secret" or str(annotation).endswith("Secret")


CONNECTION_CLASSES: dict[str, type[Connection]] = {
    cls.TYPE: cls
    for cls in (AzureOpenAIConnection, OpenAIConnection, ServerlessConnection, SerpConnection,
                CognitiveSearchConnection, AzureContentSafetyConnection, FormRecognizerConnection,
                AzureAIServicesConnection, QdrantConnection, WeaviateConnection, CustomConnection)
}


def connection_class(type_name: str) -> type[Connection]:
    """The class for a YAML ``type`` (``open_ai``), a camel name (``OpenAI``) or a class name."""
    key = type_name.strip()
    if key.endswith("Connection"):
        key = key[: -len("Connection")]
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", key)).lower()
    aliases = {"open_ai": "open_ai", "openai": "open_ai", "azure_openai": "azure_open_ai", "azure_open_ai": "azure_open_ai"}
    snake = aliases.get(snake, snake)
    if snake not in CONNECTION_CLASSES:
        known = ", ".join(sorted(CONNECTION_CLASSES))
        raise ValueError(f"Unknown connection type '{type_name}'. Known types: {known}.")
    return CONNECTION_CLASSES[snake]


def build_connection(type_name: str, *, name: str | None, configs: dict, secrets: dict) -> Connection:
    """A connection of a YAML ``type`` (or class name) from its stored ``configs`` and ``secrets``."""
    cls = connection_class(type_name)
    if issubclass(cls, CustomConnection):
        return cls(name=name, configs=configs, secrets=secrets)
    return cls(name=name, **configs, **secrets)
