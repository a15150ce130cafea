"""The HTTP service: the FastAPI app factory, routes, schemas and the review console."""
