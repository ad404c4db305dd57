"""The dashboard's HTTP rules, without sockets (sans-IO): reading a request
head within its limits, the routes, the token and the Host check."""
