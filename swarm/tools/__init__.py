"""The commands around a swarm: a one-shot client and its reports (ls,
who, status), the demo, and the generator of the docs' reference pages."""
