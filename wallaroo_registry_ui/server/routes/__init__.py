"""One router per family of the contract; ``app.create_app`` mounts them.

Each route is annotated with the shape of ``contract.py`` it answers and builds its answer
from it; ``response_model`` stays the plain ``dict`` (or ``list[dict]``) so FastAPI sends the
answer as built, on its fast JSON path: through the shape, pydantic would drop undeclared keys
and reorder the rest (and before Python 3.12 it refuses ``typing.TypedDict`` at start-up).
"""
