"""What a node does: ``@tool`` and python sources, prompt templates, and the LLM tool on the openai SDK."""
