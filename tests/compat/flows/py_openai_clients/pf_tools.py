from promptflow.connections import OpenAIConnection
from promptflow.core import tool
from promptflow.tools.common import parse_chat, render_jinja_template
from promptflow.tools.openai import chat

TEMPLATE = "# system:\nYou answer with one word.\n# user:\n{{question}}\n"


@tool
def pf_tools(connection: OpenAIConnection, question: str) -> str:
    rendered = render_jinja_template(TEMPLATE, question=question)
    roles = [message["role"] for message in parse_chat(rendered)]
    answer = chat(connection=connection, prompt=TEMPLATE, model="gpt-4o", question=question)
    return f"{roles} {answer}"
