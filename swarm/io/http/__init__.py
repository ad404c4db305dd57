"""The tracker's dashboard over HTTP: the server on its own thread, the
feed the tracker's loop publishes to it, the Prometheus metrics, the page."""
