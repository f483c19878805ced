"""Which addresses outgoing webhooks may reach (pure rules, and the check against a fake resolver)."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from services.review.webhooks.guard import (
    AddressRefused,
    GuardedBackend,
    RefusedConnect,
    address_problem,
    check_url,
    checked_addresses,
    parse_networks,
    refused,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "CGNAT"),
        ("100.127.255.254", "CGNAT"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fc00::1", "unique-local"),
        ("fd12:3456::1", "unique-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.10", "private"),
        ("198.18.0.1", "private"),
        ("2001:db8::1", "private"),
        # IPv6 spellings of IPv4 addresses are judged by the IPv4 address they reach.
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:10.0.0.1", "private"),
        ("64:ff9b::7f00:1", "loopback"),
        ("2002:7f00:1::1", "loopback"),
        ("::127.0.0.1", "reserved"),
    ],
)
def test_internal_addresses_are_refused_with_a_named_reason(address, problem):
    found = address_problem(ipaddress.ip_address(address))
    assert found is not None and found.startswith(problem)


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.215.14", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(address):
    assert address_problem(ipaddress.ip_address(address)) is None


def test_allow_nets_admit_named_networks_only():
    nets = parse_networks("127.0.0.0/8,fd00:1::/64")
    assert address_problem(ipaddress.ip_address("127.0.0.1"), nets) is None
    assert address_problem(ipaddress.ip_address("::ffff:127.0.0.1"), nets) is None
    assert address_problem(ipaddress.ip_address("fd00:1::5"), nets) is None
    assert address_problem(ipaddress.ip_address("::1"), nets) == "loopback"
    assert address_problem(ipaddress.ip_address("10.0.0.1"), nets) == "private"


def test_parse_networks_names_the_bad_entry():
    assert parse_networks(None) == () and parse_networks(" , ") == ()
    with pytest.raises(ValueError, match=r"'10.0.0.1/8'"):
        parse_networks("10.0.0.1/8")  # host bits set: a typo more likely than a wish
    with pytest.raises(ValueError, match="'redis'"):
        parse_networks("127.0.0.0/8,redis")


def fake_dns(table: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("name not known")
        return table[host]

    return resolve


async def test_any_forbidden_address_among_several_refuses():
    dns = fake_dns({"mixed.example": ["93.184.215.14", "10.0.0.7"], "public.example": ["93.184.215.14"]})
    assert [str(a) for a in await checked_addresses("public.example", 443, (), dns)] == ["93.184.215.14"]
    with pytest.raises(AddressRefused, match=r"10\.0\.0\.7, a private address"):
        await checked_addresses("mixed.example", 443, (), dns)


async def test_unresolvable_or_odd_answers_refuse():
    dns = fake_dns({"odd.example": ["not-an-ip"], "empty.example": []})
    for host in ("nowhere.example", "odd.example", "empty.example"):
        with pytest.raises(AddressRefused, match=host):
            await checked_addresses(host, 80, (), dns)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://127.1/",
        "http://0x7f000001/",
        "http://2130706433/",
        "http://0/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1%25eth0]/",
        "http://localhost:6379/",
        "http://LocalHost/",
        "https://10.0.0.1:9092/",
    ],
)
async def test_odd_spellings_of_internal_addresses_are_refused_by_the_real_resolver(url):
    # Numeric spellings and "localhost" resolve without DNS, so this runs offline.
    with pytest.raises(AddressRefused, match="webhooks may only reach public addresses"):
        await check_url(url, ())


async def test_check_url_passes_the_idna_host_and_default_port():
    seen = []

    async def resolve(host, port):
        seen.append((host, port))
        return ["93.184.215.14"]

    await check_url("https://bücher.example/x", (), resolve)
    await check_url("http://hooks.example.com:8080/x", (), resolve)
    assert seen == [("xn--bcher-kva.example", 443), ("hooks.example.com", 8080)]


class FakeStream:
    def __init__(self, peer):
        self.peer, self.closed = peer, False

    def get_extra_info(self, name):
        return self.peer if name == "server_addr" else None

    async def aclose(self):
        self.closed = True


class FakeSockets:
    """Stands in for the real network: records where it was asked to connect."""

    def __init__(self, peers: dict[str, tuple[str, int]]):
        self.peers, self.calls, self.streams = peers, [], []

    async def connect_tcp(self, host, port, **_):
        self.calls.append((host, port))
        self.streams.append(FakeStream(self.peers.get(host)))
        return self.streams[-1]


async def test_the_backend_connects_to_the_checked_address_not_the_name():
    sockets = FakeSockets({"93.184.215.14": ("93.184.215.14", 443)})
    backend = GuardedBackend((), fake_dns({"hooks.example.com": ["93.184.215.14"]}), inner=sockets)
    stream = await backend.connect_tcp("hooks.example.com", 443)
    assert sockets.calls == [("93.184.215.14", 443)] and stream is sockets.streams[0]


async def test_the_backend_never_connects_to_a_forbidden_address():
    sockets = FakeSockets({})
    backend = GuardedBackend((), fake_dns({"rebind.example": ["127.0.0.1"]}), inner=sockets)
    with pytest.raises(RefusedConnect, match="loopback"):
        await backend.connect_tcp("rebind.example", 80)
    with pytest.raises(RefusedConnect):
        await backend.connect_unix_socket("/var/run/redis.sock")
    assert sockets.calls == []


async def test_the_backend_refuses_a_socket_whose_peer_is_not_the_checked_address():
    sockets = FakeSockets({"93.184.215.14": ("10.0.0.9", 80)})
    backend = GuardedBackend((), fake_dns({"hooks.example.com": ["93.184.215.14"]}), inner=sockets)
    with pytest.raises(RefusedConnect, match="not to the checked address"):
        await backend.connect_tcp("hooks.example.com", 80)
    assert sockets.streams[0].closed


def test_refused_finds_the_guard_under_httpx_errors():
    try:
        try:
            raise RefusedConnect("no")
        except RefusedConnect as inner:
            raise httpx.ConnectError("no") from inner
    except httpx.ConnectError as outer:
        assert refused(outer)
    assert not refused(httpx.ConnectError("connection refused"))
