"""The tracker's IO: its poll loop (a ROUTER for requests, a PUB for
events), its port.txt and the lock on its folder."""
