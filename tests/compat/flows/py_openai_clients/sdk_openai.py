from openai import OpenAI

from promptflow.connections import OpenAIConnection
from promptflow.core import tool


@tool
def sdk_openai(connection: OpenAIConnection, question: str) -> str:
    client = OpenAI(api_key=connection.api_key, base_url=connection.base_url)
    response = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": question}],
    )
    return response.choices[0].message.content
