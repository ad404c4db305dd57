"""Everything that touches the world, by role: the peer's side (io/peer),
the tracker's (io/tracker), the dashboard's HTTP (io/http), and what both
use (io/common).  Thin: each loop hands what arrives to the pure state and
carries out the actions it returns."""
