"""Test networks made of Linux network namespaces: hosts on one bridge, links
limited with tc (tbf, and netem where the kernel has it), and a private host
behind a NAT router.  Every address lives inside namespaces the test makes
itself; everything is torn down afterwards.

    public hosts  --veth--  [bridge in ns "sw"]  --veth--  nat router  --veth--  hidden host
    10.77.0.x/24                                           10.77.0.254 | 192.168.77.1   192.168.77.2
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field

SUBNET = "10.77.0"
PRIVATE = "192.168.77"
COMMAND_TIMEOUT_S = 20


class NetnsUnavailable(Exception):
    """This machine cannot make the namespaces (not root, no iproute2, ...)."""


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
                          check=check)


def why_unavailable() -> str | None:
    """Why network namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (the ip command) is not installed"
    probe = f"swarmprobe{os.getpid()}"
    result = run("ip", "netns", "add", probe, check=False)
    if result.returncode != 0:
        return f"cannot make a network namespace: {result.stderr.strip()}"
    run("ip", "netns", "del", probe, check=False)
    return None


def nat_tool() -> str | None:
    """nft or iptables, whichever can set up masquerading here."""
    for tool in ("nft", "iptables"):
        if shutil.which(tool):
            return tool
    return None


@dataclass
class Topology:
    tag: str  # makes names unique to this run
    namespaces: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the limits are, for the output
    netem: bool = False

    @classmethod
    def create(cls) -> Topology:
        topology = cls(tag=str(os.getpid() % 100000))
        try:
            topology._add_ns(topology.switch)
            run("ip", "-n", topology.switch, "link", "add", "br0", "type", "bridge")
            run("ip", "-n", topology.switch, "link", "set", "br0", "up")
        except Exception:
            topology.destroy()
            raise
        return topology

    @property
    def switch(self) -> str:
        return f"sw{self.tag}"

    def ns(self, name: str) -> str:
        return f"{name}{self.tag}"

    def add_loopback_host(self, name: str) -> str:
        """A host with its loopback alone (127.0.0.1 and ::1), nothing else
        reaching it; returns its namespace."""
        ns = self.ns(name)
        self._add_ns(ns)
        return ns

    def _add_ns(self, name: str) -> None:
        run("ip", "netns", "add", name)
        self.namespaces.append(name)
        run("ip", "-n", name, "link", "set", "lo", "up")

    def _cable(self, ns: str, index: int, into_switch: bool = True) -> str:
        """A veth pair from ``ns`` to the bridge; returns the host-side name."""
        host_end, switch_end = f"h{self.tag}x{index}", f"s{self.tag}x{index}"
        run("ip", "link", "add", host_end, "type", "veth", "peer", "name", switch_end)
        run("ip", "link", "set", host_end, "netns", ns)
        run("ip", "link", "set", switch_end, "netns", self.switch)
        run("ip", "-n", self.switch, "link", "set", switch_end, "master", "br0")
        run("ip", "-n", self.switch, "link", "set", switch_end, "up")
        run("ip", "-n", ns, "link", "set", host_end, "up")
        return host_end

    def add_host(self, name: str, index: int, rate_mbit: int, delay_ms: int = 0,
                 loss_percent: float = 0.0) -> tuple[str, str]:
        """A host on the bridge at 10.77.0.<index>; returns (namespace, address)."""
        ns = self.ns(name)
        self._add_ns(ns)
        nic = self._cable(ns, index)
        address = f"{SUBNET}.{index}"
        run("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", nic)
        self.limit(ns, nic, rate_mbit, delay_ms, loss_percent)
        return ns, address

    def limit(self, ns: str, nic: str, rate_mbit: int, delay_ms: int,
              loss_percent: float) -> None:
        """Bandwidth with tbf; delay and loss with netem where the kernel has it."""
        rate = f"{rate_mbit}mbit"
        if delay_ms or loss_percent:
            netem = run("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", nic, "root",
                        "handle", "1:", "netem", "delay", f"{delay_ms}ms", "loss",
                        f"{loss_percent}%", check=False)
            if netem.returncode == 0:
                self.netem = True
                run("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", nic, "parent",
                    "1:1", "handle", "10:", "tbf", "rate", rate, "burst", "256kb", "latency",
                    "100ms")
                return
            note = ("netem is not available in this kernel "
                    f"({netem.stderr.strip()}): links run without delay and loss")
            if note not in self.notes:
                self.notes.append(note)
        run("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", nic, "root", "tbf",
            "rate", rate, "burst", "256kb", "latency", "100ms")

    def add_hidden_host(self, name: str, router_index: int, rate_mbit: int,
                        random_ports: bool = False,
                        drop_unsolicited: bool = False) -> tuple[str, str]:
        """A host behind a NAT router (masquerade): it can connect out to the
        bridge's hosts, but none of them can connect in.  Linux masquerade
        keeps a connection's source port where it can; ``random_ports`` makes
        it draw a new one for every connection (nft ``fully-random``, iptables
        ``--random-fully``), as a symmetric NAT does.  ``drop_unsolicited``:
        the router silently drops a connection attempt from outside that
        matches nothing it let out, as home routers do, instead of answering
        it with a reset (what a Linux router without that rule does)."""
        tool = nat_tool()
        if tool is None:
            raise NetnsUnavailable("neither nft nor iptables is installed for NAT")
        router = self.ns(f"{name}gw")
        self._add_ns(router)
        public_nic = self._cable(router, router_index)
        run("ip", "-n", router, "addr", "add", f"{SUBNET}.{router_index}/24", "dev", public_nic)
        host = self.ns(name)
        self._add_ns(host)
        inside, outside = f"p{self.tag}a{router_index}", f"p{self.tag}b{router_index}"
        run("ip", "link", "add", inside, "type", "veth", "peer", "name", outside)
        run("ip", "link", "set", inside, "netns", host)
        run("ip", "link", "set", outside, "netns", router)
        run("ip", "-n", router, "addr", "add", f"{PRIVATE}.1/24", "dev", outside)
        run("ip", "-n", host, "addr", "add", f"{PRIVATE}.2/24", "dev", inside)
        run("ip", "-n", router, "link", "set", outside, "up")
        run("ip", "-n", host, "link", "set", inside, "up")
        run("ip", "-n", host, "route", "add", "default", "via", f"{PRIVATE}.1")
        run("ip", "netns", "exec", router, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
        if tool == "nft":
            run("ip", "netns", "exec", router, "nft", "add", "table", "ip", "nat")
            run("ip", "netns", "exec", router, "nft",
                "add chain ip nat post { type nat hook postrouting priority 100 ; }")
            run("ip", "netns", "exec", router, "nft", "add", "rule", "ip", "nat", "post",
                "oifname", public_nic, "masquerade", *(["fully-random"] if random_ports else []))
        else:
            run("ip", "netns", "exec", router, "iptables", "-t", "nat", "-A", "POSTROUTING",
                "-o", public_nic, "-j", "MASQUERADE",
                *(["--random-fully"] if random_ports else []))
        if drop_unsolicited:
            self._drop_unsolicited(tool, router, public_nic)
        self.limit(host, inside, rate_mbit, 0, 0.0)
        kind = "masquerade fully-random" if random_ports else "masquerade"
        if drop_unsolicited:
            kind += ", unsolicited packets dropped"
        self.notes.append(f"NAT by {tool} {kind} at {SUBNET}.{router_index}")
        return host, f"{PRIVATE}.2"

    @staticmethod
    def _drop_unsolicited(tool: str, router: str, public_nic: str) -> None:
        if tool == "nft":
            run("ip", "netns", "exec", router, "nft", "add", "table", "ip", "guard")
            run("ip", "netns", "exec", router, "nft",
                "add chain ip guard in { type filter hook input priority 0 ; }")
            run("ip", "netns", "exec", router, "nft", "add", "rule", "ip", "guard", "in",
                "iifname", public_nic, "ct", "state", "new,invalid", "drop")
        else:
            run("ip", "netns", "exec", router, "iptables", "-A", "INPUT", "-i", public_nic,
                "-m", "conntrack", "--ctstate", "NEW,INVALID", "-j", "DROP")

    def destroy(self) -> None:
        for ns in reversed(self.namespaces):
            run("ip", "netns", "del", ns, check=False)
        self.namespaces.clear()


def in_namespace(ns: str, argv: Sequence[str]) -> list[str]:
    return ["ip", "netns", "exec", ns, *argv]
