from typing import Union

from promptflow.connections import AzureOpenAIConnection, OpenAIConnection
from promptflow.core import tool


@tool
def inspect_llm(openai: OpenAIConnection, azure: Union[AzureOpenAIConnection, OpenAIConnection]) -> dict:
    return {
        "openai_class": type(openai).__name__,
        "openai_key_is_set": bool(openai.api_key),
        "openai_has_base_url": bool(openai.base_url),
        "azure_class": type(azure).__name__,
        "azure_is_azure": isinstance(azure, AzureOpenAIConnection),
        "azure_api_type": azure.api_type,
        "azure_api_version": azure.api_version,
        "azure_keys": sorted(dict(azure)),
    }
