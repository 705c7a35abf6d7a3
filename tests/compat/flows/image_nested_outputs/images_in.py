from promptflow.contracts.multimedia import Image


def images_in(value, found=None):
    """Every Image inside lists and dicts, depth first."""
    found = [] if found is None else found
    if isinstance(value, Image):
        found.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            images_in(v, found)
    elif isinstance(value, list):
        for v in value:
            images_in(v, found)
    return found
