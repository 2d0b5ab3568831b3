"""The real AWS endpoints, end to end: no AWS_ENDPOINT_URL at all.

Every other integration test points the functions at the emulator with
AWS_ENDPOINT_URL, so the default endpoints the AWS client builds
(https://ec2.<region>.amazonaws.com, autoscaling..., ssm..., and the other
partitions' suffixes) would never meet a server. Here each function runs as
on Lambda, in a chroot holding only /bootstrap, /etc/hosts, /etc/resolv.conf
and the CA bundle at Amazon Linux 2023's path, with the real host names
mapped in /etc/hosts to a loopback address where a TLS front listens on
port 443 and forwards to the emulator.

The front picks its certificate by the SNI name the client sends: each host
name has its own certificate (signed by the test CA) valid for that name
only, and an unknown or missing name gets a certificate for another host. So
a run that succeeds proves the default host name, that it was sent as SNI,
and that the certificate was verified for it; the front records the SNI of
every connection, and the emulator the service of every call on it, so each
call is checked to have gone to its own service's host. A certificate for a
wrong name (from the trusted CA) must be refused.

Partitions: aws (eu-west-1), aws-cn (cn-north-1, *.amazonaws.com.cn),
aws-us-gov (us-gov-west-1: the default pattern, as in botocore's
endpoints.json), aws-iso (*.c2s.ic.gov) and aws-iso-b (*.sc2s.sgov.gov).
Slack stays on loopback: its URL comes from the SSM parameter, not from us.

Needs root (chroot, port 443); skipped otherwise, or when port 443 cannot be
bound on the chosen loopback address.

    DEVCLOUD_BUILD=build /usr/bin/python3 -m pytest -q tests/integration/test_endpoints.py
"""

import datetime
import json
import os
import random
import select
import shutil
import socket
import ssl
import subprocess
import threading
from pathlib import Path

import pytest

from binaries import bootstrap_path, require
from harness import AwsEmu, SlackReceiver, base_env, scheduled_event

LAMBDA_CA_PATH = "/etc/pki/tls/certs/ca-bundle.crt"  # Amazon Linux 2023
SERVICES = ("ec2", "autoscaling", "ssm")
# region -> the DNS suffix of its partition (botocore's endpoints.json)
PARTITIONS = {
    "eu-west-1": "amazonaws.com",           # aws
    "cn-north-1": "amazonaws.com.cn",       # aws-cn
    "us-gov-west-1": "amazonaws.com",       # aws-us-gov
    "us-iso-east-1": "c2s.ic.gov",          # aws-iso
    "us-isob-east-1": "sc2s.sgov.gov",      # aws-iso-b
}
WRONG_NAME = "wrong-host.example"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chroot and port 443 need root")


def host(service, region):
    return f"{service}.{region}.{PARTITIONS[region]}"


def every_host():
    return [host(s, r) for r in PARTITIONS for s in SERVICES]


# --------------------------------------------------------------------------
# Certificates: a CA, one certificate per host name, one for a wrong name
# --------------------------------------------------------------------------

def _openssl(cwd, *args):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                       timeout=60, env={"PATH": "/usr/bin:/bin", "LANG": "C"})
    assert p.returncode == 0, f"openssl {' '.join(args)}:\n{p.stderr}"


def _server_cert(d, name, san):
    ext = d / f"{name}.ext"
    ext.write_text(f"subjectAltName=DNS:{san}\n"
                   "basicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=serverAuth\n")
    _openssl(d, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={san}")
    _openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext.name,
             "-out", f"{name}.crt")
    return d / f"{name}.crt", d / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("endpoints-pki")
    _openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=devcloud endpoints test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    certs = {name: _server_cert(d, f"host{i}", name)
             for i, name in enumerate(every_host() + [WRONG_NAME])}
    return {"ca": d / "ca.crt", "certs": certs}


# --------------------------------------------------------------------------
# The TLS front: port 443 on a loopback address, certificate chosen by SNI
# --------------------------------------------------------------------------

class TlsFront:
    """Terminates TLS on (addr, 443) and forwards the bytes to the emulator.

    ``serve`` maps an SNI name to the host name whose certificate it gets
    (normally itself); any other name, or none, gets WRONG_NAME's.
    ``connections()`` lists {"sni", "upstream", "handshake"} per connection:
    the upstream "127.0.0.1:port" is what the emulator records as the call's
    connection.
    """

    def __init__(self, pki, upstream_port, serve):
        self.addr = f"127.{random.randint(1, 254)}.{random.randint(0, 254)}.{random.randint(1, 254)}"
        self.upstream_port = upstream_port
        self._contexts = {}
        for sni, name in serve.items():
            self._contexts[sni] = self._context(*pki["certs"][name])
        self._default = self._context(*pki["certs"][WRONG_NAME])
        self._default.sni_callback = self._pick
        self._lock = threading.Lock()
        self._local = threading.local()
        self._connections = []
        self._threads = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((self.addr, 443))
        except OSError as e:
            self._sock.close()
            pytest.skip(f"cannot listen on {self.addr}:443: {e}")
        self._sock.listen(16)
        self._stopping = False
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    @staticmethod
    def _context(cert, key):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        return ctx

    def _pick(self, tls, sni, _ctx):
        self._local.sni = sni    # the handshake runs in the connection's thread
        if sni in self._contexts:
            tls.context = self._contexts[sni]

    def _accept(self):
        while not self._stopping:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn):
        record = {"sni": None, "upstream": None, "handshake": None}
        with self._lock:
            self._connections.append(record)
        conn.settimeout(30)
        self._local.sni = None
        try:
            tls = self._default.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError) as e:
            record["sni"] = self._local.sni
            record["handshake"] = f"failed: {e}"
            conn.close()
            return
        record["sni"] = self._local.sni
        record["handshake"] = "ok"
        up = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
        record["upstream"] = "%s:%d" % up.getsockname()[:2]
        try:
            self._pipe(tls, up)
        except (ssl.SSLError, OSError):
            pass
        finally:
            up.close()
            tls.close()

    @staticmethod
    def _pipe(tls, up):
        while True:
            ready = [tls] if tls.pending() else select.select([tls, up], [], [], 30)[0]
            if not ready:
                return
            if tls in ready:
                data = tls.recv(65536)
                if not data:
                    return
                up.sendall(data)
            if up in ready:
                data = up.recv(65536)
                if not data:
                    return
                tls.sendall(data)

    def connections(self):
        with self._lock:
            return [dict(c) for c in self._connections]

    def close(self):
        self._stopping = True
        self._sock.close()
        self._acceptor.join(timeout=5)
        for t in self._threads:
            t.join(timeout=5)


# --------------------------------------------------------------------------
# The chroot: nothing but the bootstrap, hosts, resolv.conf and the CA bundle
# --------------------------------------------------------------------------

def _make_root(tmp_path, fn, ca, addr):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    shutil.copy2(require(bootstrap_path(fn)), root / "bootstrap")
    lines = ["127.0.0.1 localhost"] + [f"{addr} {name}" for name in every_host()]
    (root / "etc" / "hosts").write_text("\n".join(lines) + "\n")
    (root / "etc" / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    dest = root / LAMBDA_CA_PATH.lstrip("/")
    dest.parent.mkdir(parents=True)
    shutil.copy(ca, dest)
    os.chmod(root, 0o755)
    return root


def run_in_chroot(tmp_path, fn, pki, front, region, event, **env_extra):
    """Runs `fn` once in the chroot, with no endpoint override; (rc, response, stderr)."""
    root = _make_root(tmp_path, fn, pki["ca"], front.addr)
    env = base_env(region=region)
    for k in list(env):
        assert not k.startswith("AWS_ENDPOINT_URL"), k
    env.pop("SSL_CERT_FILE", None)
    env.update({k: str(v) for k, v in env_extra.items()})
    p = subprocess.run(["/usr/sbin/chroot", str(root), "/bootstrap", "--event", "-"],
                       input=json.dumps(event).encode(), env=env, capture_output=True,
                       timeout=120)
    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
    assert out, f"rc={p.returncode}, nothing on stdout\n--- stderr\n{err}"
    return p.returncode, json.loads(out), err


def assert_each_call_went_to_its_host(aws, front, region, services):
    """Every call the emulator saw came through a connection whose SNI is
    its own service's host in `region`, and `services` were all reached."""
    by_upstream = {c["upstream"]: c for c in front.connections() if c["upstream"]}
    calls = aws.calls()
    assert calls, "no call reached the emulator"
    for call in calls:
        conn = by_upstream.get(call["connection"])
        assert conn is not None, f"{call['action']} did not come through the TLS front"
        assert conn["sni"] == host(call["service"], region), (call["action"], conn)
        assert call["status"] == 200, call
    assert {c["service"] for c in calls} == set(services), sorted({c["service"] for c in calls})


@pytest.fixture
def front_for(pki):
    """front_for(aws) -> a TlsFront before the emulator, every host name served."""
    fronts = []

    def make(aws, serve=None):
        f = TlsFront(pki, aws.port, serve or {name: name for name in every_host()})
        fronts.append(f)
        return f
    yield make
    for f in fronts:
        f.close()


# --------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------

def _ago(hours):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=hours)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def ami(n):
    return f"ami-0e{n:015x}"


def snap(n):
    return f"snap-0e{n:015x}"


def image(n, age_hours):
    return {"id": ami(n), "name": f"devbox-{n:02d}", "creation_date": _ago(age_hours),
            "tags": {"devcloud:role": "devbox-image"}, "snapshots": [snap(n)]}


DEVBOXES = ["i-0e000000000000001", "i-0e000000000000002"]


def devboxes(region):
    return {"region": region, "instances": [
        {"id": DEVBOXES[0], "state": "running", "tags": {"devcloud:role": "devbox"}},
        {"id": DEVBOXES[1], "state": "running", "tags": {"devcloud:role": "devbox"}},
        {"id": "i-0e000000000000003", "state": "running", "tags": {"devcloud:role": "runner"}},
    ]}


def image_family(region):
    """Four images, two kept; the third is named through SSM by a launch
    template an Auto Scaling group uses, so the pruner reaches all three
    services before it deletes the fourth."""
    return {
        "region": region,
        "images": [image(1, 1), image(2, 2), image(3, 3), image(4, 4)],
        "launch_templates": [{"id": "lt-0e000000000000001", "name": "agents",
                              "default_version": 1, "versions": [
                                  {"number": 1, "image_id": "resolve:ssm:/devcloud/agent-ami"}]}],
        "auto_scaling_groups": [{"name": "agents",
                                 "launch_template": {"id": "lt-0e000000000000001",
                                                     "version": "$Default"}}],
        "parameters": [{"name": "/devcloud/agent-ami", "type": "String", "value": ami(3),
                        "data_type": "aws:ec2:image"}],
    }


# --------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------

def test_stopper_default_endpoint(tmp_path, pki, front_for):
    region = "eu-west-1"
    with AwsEmu(state=devboxes(region), region=region) as aws:
        front = front_for(aws)
        rc, resp, err = run_in_chroot(tmp_path, "stopper", pki, front, region,
                                      scheduled_event("devcloud-stopper", region=region))
        assert rc == 0, f"{resp}\n{err}"
        assert sorted(resp["stopped"]) == DEVBOXES and resp["failed"] == [], resp
        states = {i["id"]: i["state"] for i in aws.state()["instances"]}
        assert all(states[i] in ("stopping", "stopped") for i in DEVBOXES), states
        assert_each_call_went_to_its_host(aws, front, region, ["ec2"])


def test_terminator_default_endpoint(tmp_path, pki, front_for):
    region = "eu-west-1"
    state = {"region": region, "instances": [
        {"id": "i-0e0000000000000b1", "state": "running", "launch_time": _ago(72),
         "attach_time": _ago(72), "tags": {"devcloud:role": "builder"}},
        {"id": "i-0e0000000000000b2", "state": "running", "launch_time": _ago(1),
         "attach_time": _ago(1), "tags": {"devcloud:role": "builder"}},
    ]}
    with AwsEmu(state=state, region=region) as aws:
        front = front_for(aws)
        rc, resp, err = run_in_chroot(tmp_path, "terminator", pki, front, region,
                                      scheduled_event("devcloud-terminator", region=region))
        assert rc == 0, f"{resp}\n{err}"
        assert resp["terminated"] == ["i-0e0000000000000b1"], resp
        assert aws.instance("i-0e0000000000000b1")["state"] in ("shutting-down", "terminated")
        assert aws.instance("i-0e0000000000000b2")["state"] == "running"
        assert_each_call_went_to_its_host(aws, front, region, ["ec2"])


@pytest.mark.parametrize("region", list(PARTITIONS))
def test_image_pruner_default_endpoints(tmp_path, pki, front_for, region):
    """EC2, Auto Scaling and SSM at their default hosts, in every partition
    whose endpoints the client builds."""
    with AwsEmu(state=image_family(region), region=region) as aws:
        front = front_for(aws)
        rc, resp, err = run_in_chroot(tmp_path, "image_pruner", pki, front, region,
                                      scheduled_event("devcloud-image-pruner", region=region),
                                      MAX_IMAGES_COUNT=2)
        assert rc == 0, f"{resp}\n{err}"
        assert [d["image"] for d in resp["deleted"]] == [ami(4)], resp
        assert resp["in_use"] == [ami(3)], resp
        assert sorted(aws.image_ids()) == [ami(1), ami(2), ami(3)]
        assert snap(4) not in aws.snapshot_ids()
        assert_each_call_went_to_its_host(aws, front, region, SERVICES)


def test_build_monitor_default_endpoints(tmp_path, pki, front_for):
    """The webhook is read from SSM at its default host; Slack itself stays
    on loopback (its URL is the parameter's value)."""
    region = "eu-west-1"
    with SlackReceiver() as slack:
        state = {"region": region, "images": [image(1, 40)],
                 "parameters": [{"name": "/devcloud/slack-webhook", "type": "SecureString",
                                 "value": slack.url}]}
        with AwsEmu(state=state, region=region) as aws:
            front = front_for(aws)
            rc, resp, err = run_in_chroot(
                tmp_path, "build_monitor", pki, front, region,
                scheduled_event("devcloud-build-monitor", region=region),
                SLACK_WEBHOOK_PARAMETER="/devcloud/slack-webhook")
            assert rc == 0, f"{resp}\n{err}"
            assert resp["alerted"] is True and resp["latest_image"]["id"] == ami(1), resp
            assert len(slack.messages()) == 1
            assert slack.secret not in err
            assert_each_call_went_to_its_host(aws, front, region, ["ec2", "ssm"])


@pytest.mark.parametrize("region", ["eu-west-1", "cn-north-1"])
def test_certificate_for_another_host_is_refused(tmp_path, pki, front_for, region):
    """The EC2 host is served a trusted certificate for another region's EC2
    host: host-name verification refuses it, and nothing reaches AWS."""
    other = "us-gov-west-1" if region == "cn-north-1" else "cn-north-1"
    serve = {name: name for name in every_host()}
    serve[host("ec2", region)] = host("ec2", other)
    with AwsEmu(state=devboxes(region), region=region) as aws:
        front = front_for(aws, serve)
        rc, resp, err = run_in_chroot(tmp_path, "stopper", pki, front, region, {},
                                      AWS_MAX_ATTEMPTS=3)
        assert rc == 1, f"{resp}\n{err}"
        text = f"{resp.get('errorType')} {resp.get('errorMessage')}".lower()
        assert any(w in text for w in ("tls", "ssl", "certificate")), resp
        assert aws.calls() == [], "a request got through despite the wrong certificate"
        conns = front.connections()
        assert conns and all(c["sni"] == host("ec2", region) for c in conns), conns
        # (with TLS 1.3 the front's handshake ends before the client checks
        # the certificate, so the client's alert comes after: no upstream check)
        assert len(conns) == 1, f"a verification failure was retried: {conns}"
        assert all(i["state"] == "running" for i in aws.state()["instances"])


def test_region_without_built_in_endpoints_is_refused(tmp_path, pki, front_for):
    """aws-iso-f: no default endpoint is guessed; init fails naming the fix."""
    region = "us-isof-south-1"
    with AwsEmu(state=devboxes(region), region=region) as aws:
        front = front_for(aws)
        rc, resp, err = run_in_chroot(tmp_path, "stopper", pki, front, region, {})
        assert rc == 1, f"{resp}\n{err}"
        assert resp["errorType"] == "Runtime.InitError", resp
        assert "AWS_ENDPOINT_URL" in resp["errorMessage"] and region in resp["errorMessage"]
        assert front.connections() == [] and aws.calls() == []
