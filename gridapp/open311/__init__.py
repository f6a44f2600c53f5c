"""Open311 GeoReport v2 endpoint (``/open311/v2/``): integrators file and read requests."""
