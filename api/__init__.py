"""The versioned REST API (``/api/v1/``, django-ninja) and its personal API tokens."""
