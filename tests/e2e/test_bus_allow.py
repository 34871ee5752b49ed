"""`aico bus allow`: another machine's CURVE key is admitted, and dropped, by the running broker without a restart."""

from __future__ import annotations

import json
from pathlib import Path

import zmq
from test_spine import _stored_after_probe

from support import Backend, run_aico


def foreign_publisher(env: dict[str, str], public: bytes, secret: bytes) -> zmq.Socket[bytes]:
    """A PUB socket with a keypair of its own (another machine's), knowing the broker's public key."""
    keys = json.loads((Path(env["AICO_HOME"]) / "keys" / "bus.keys").read_text())
    pub = zmq.Context.instance().socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.curve_serverkey = keys["server_public"].encode()
    pub.curve_publickey, pub.curve_secretkey = public, secret
    pub.connect(f"tcp://127.0.0.1:{env['AICO_CORE__MESSAGE_BUS__PUB_PORT']}")
    return pub


def test_a_key_added_to_the_allow_list_is_admitted_by_the_running_broker(env: dict[str, str]) -> None:
    """Refused before `allow add`, admitted after it with no restart; ls shows it with its note; rm takes it out."""
    public, secret = zmq.curve_keypair()
    with Backend(env):
        before = foreign_publisher(env, public, secret)
        try:
            assert not _stored_after_probe(env, before, 3)
        finally:
            before.close()
        # "--" before the key: a Z85 key may start with "-" (a run drew one and the CLI took it for an option)
        done = run_aico(env, "bus", "allow", "add", "--note", "laptop", "--", public.decode())
        assert done.returncode == 0, done.stderr
        assert run_aico(env, "bus", "allow", "ls").stdout.split() == [public.decode(), "laptop"]
        after = foreign_publisher(env, public, secret)
        try:
            assert _stored_after_probe(env, after, 20)
        finally:
            after.close()
        assert run_aico(env, "bus", "allow", "rm", "--", public.decode()).returncode == 0
        assert run_aico(env, "bus", "allow", "ls").stdout.strip() == ""
    bad = run_aico(env, "bus", "allow", "add", "not-a-key")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert oct((Path(env["AICO_HOME"]) / "keys" / "bus_clients.allow").stat().st_mode)[-3:] == "600"
