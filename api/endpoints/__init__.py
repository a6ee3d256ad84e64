"""The API's routers, one module per area (the apps' services and selectors underneath)."""
