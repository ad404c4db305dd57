"""What a person runs around a swarm: a one-shot client and its reports
(ls, who, status) and the demo."""
