from openai import AzureOpenAI

from promptflow.connections import AzureOpenAIConnection
from promptflow.core import tool


@tool
def sdk_azure(connection: AzureOpenAIConnection, question: str) -> str:
    client = AzureOpenAI(
        api_key=connection.api_key, azure_endpoint=connection.api_base, api_version=connection.api_version
    )
    response = client.completions.create(model="gpt-35-turbo-instruct", prompt=question, max_tokens=20)
    return response.choices[0].text
