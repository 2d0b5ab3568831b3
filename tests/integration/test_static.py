"""The deployable artefacts themselves: every build/<fn>/bootstrap is a fully
static executable, every build/<fn>.zip is the reproducible Lambda package of
exactly that binary, and the binary does its job with nothing around it but
what a Lambda provided.al2023 host is sure to have (a chroot holding only the
binary, /etc/hosts, /etc/resolv.conf and a CA bundle), verifying TLS and never
reaching glibc's NSS or dlopen.

    /usr/bin/python3 -m pytest -q tests/integration/test_static.py

DEVCLOUD_BUILD: the build directory (default build, relative to the repo root).
DEVCLOUD_SKIP_SLOW=1 skips the reproducibility rebuild (~40 s).
The chroot tests need root (they are skipped otherwise).
"""

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / os.environ.get("DEVCLOUD_BUILD", "build")
FUNCTIONS = sorted(p.name for p in (REPO / "functions").iterdir() if p.is_dir())

sys.path.insert(0, str(REPO / "tests" / "emulator"))

from harness import AwsEmu, base_env, run_local  # noqa: E402

IS_ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not IS_ROOT, reason="chroot needs root")
SKIP_SLOW = os.environ.get("DEVCLOUD_SKIP_SLOW") == "1"

LAMBDA_CA_PATH = "/etc/pki/tls/certs/ca-bundle.crt"  # Amazon Linux 2023
DEFAULT_CA_PATHS = (
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/certs/ca-bundle.crt",
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/ssl/cert.pem",
)

DEVBOXES = ["i-0a1b2c3d4e5f0aa01", "i-0a1b2c3d4e5f0aa02"]
OTHER = "i-0a1b2c3d4e5f0bb03"
STATE = {
    "region": "eu-west-1",
    "credentials": {"AKIDEMULATOR": "emulator-secret-key"},
    "instances": [
        {"id": DEVBOXES[0], "state": "running",
         "tags": {"devcloud:role": "devbox", "Name": "alice"}},
        {"id": DEVBOXES[1], "state": "running",
         "tags": {"devcloud:role": "devbox", "Name": "bob"}},
        {"id": OTHER, "state": "running", "tags": {"devcloud:role": "runner"}},
    ],
}


def _require(path):
    path = Path(path)
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make` (or `make nss-trap`) first")
    return path


def _bootstrap(fn):
    return _require(BUILD / fn / "bootstrap")


# --------------------------------------------------------------------------
# 1. Static executables
# --------------------------------------------------------------------------

PT_INTERP = 3


def elf_program_header_types(path):
    """The p_type of every program header of an ELF file (struct only, no `file`)."""
    with open(path, "rb") as f:
        ident = f.read(16)
        assert ident[:4] == b"\x7fELF", f"{path} is not an ELF file"
        ei_class, ei_data = ident[4], ident[5]
        assert ei_class in (1, 2), f"{path}: bad EI_CLASS {ei_class}"
        assert ei_data in (1, 2), f"{path}: bad EI_DATA {ei_data}"
        end = "<" if ei_data == 1 else ">"
        if ei_class == 2:   # ELF64: e_type..e_shstrndx after e_ident
            hdr = struct.unpack(end + "HHIQQQIHHHHHH", f.read(48))
        else:               # ELF32
            hdr = struct.unpack(end + "HHIIIIIHHHHHH", f.read(36))
        e_phoff, e_phentsize, e_phnum = hdr[4], hdr[8], hdr[9]
        assert e_phnum == 0 or e_phentsize >= 4, f"{path}: bad e_phentsize {e_phentsize}"
        types = []
        for i in range(e_phnum):
            f.seek(e_phoff + i * e_phentsize)
            raw = f.read(4)
            assert len(raw) == 4, f"{path}: truncated program header table"
            types.append(struct.unpack(end + "I", raw)[0])
        return types


def _ldd(path):
    p = subprocess.run(["ldd", str(path)], capture_output=True, text=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin", "LANG": "C"})
    return p.stdout + p.stderr


def test_elf_checks_tell_a_dynamic_executable_apart():
    """The two checks below do detect a dynamic executable (this python)."""
    dynamic = os.path.realpath("/usr/bin/python3")
    assert PT_INTERP in elf_program_header_types(dynamic)
    out = _ldd(dynamic)
    assert "not a dynamic executable" not in out and "statically linked" not in out, out


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_bootstrap_is_static(fn):
    path = _bootstrap(fn)
    out = _ldd(path)
    assert "not a dynamic executable" in out or "statically linked" in out, (
        f"ldd {path}:\n{out}")
    types = elf_program_header_types(path)
    assert types, f"{path} has no program headers"
    assert PT_INTERP not in types, f"{path} has a PT_INTERP program header (needs a loader)"


# --------------------------------------------------------------------------
# 2. The deployment zips
# --------------------------------------------------------------------------

@pytest.mark.parametrize("fn", FUNCTIONS)
def test_zip_holds_exactly_the_bootstrap(fn):
    zpath = _require(BUILD / f"{fn}.zip")
    binary = _bootstrap(fn).read_bytes()
    with zipfile.ZipFile(zpath) as z:
        infos = z.infolist()
        assert [i.filename for i in infos] == ["bootstrap"], [i.filename for i in infos]
        info = infos[0]
        assert info.create_system == 3, "not a unix entry: Lambda would ignore the mode"
        mode = info.external_attr >> 16
        assert mode == 0o100755, f"mode {oct(mode)}, want a regular file 0o755"
        assert info.date_time == (1980, 1, 1, 0, 0, 0), info.date_time
        assert z.testzip() is None
        assert z.read(info) == binary, f"{zpath}:bootstrap differs from build/{fn}/bootstrap"


def _make(*args, timeout=600):
    return subprocess.run(["make", "--no-print-directory", "-C", str(REPO), *args],
                          capture_output=True, text=True, timeout=timeout)


def _fingerprint(paths):
    out = {}
    for p in paths:
        try:
            st = p.stat()
            out[str(p)] = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            out[str(p)] = None
    return out


@pytest.mark.skipif(SKIP_SLOW, reason="DEVCLOUD_SKIP_SLOW=1")
def test_zip_is_reproducible(tmp_path):
    fn = "stopper"
    zpath = _require(BUILD / f"{fn}.zip")
    deps = BUILD / "deps"
    _require(deps / ".stamp")

    # Only a build/ that is up to date with the sources can be compared with a
    # fresh build.  Check the compiled-in version first (`make -q` would
    # rewrite build/version.txt if it changed), then ask make.
    describe = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                              capture_output=True, text=True).stdout.strip() or "dev"
    version = subprocess.run([str(_bootstrap(fn)), "--version"],
                             capture_output=True, text=True, timeout=10).stdout.strip()
    if version != f"{fn} {describe}":
        pytest.fail(f"{BUILD}/{fn} is stale ({version!r}, the tree is {describe!r}): run make")
    q = _make("-q", f"BUILD={BUILD}", f"DEPS={deps}", str(zpath))
    if q.returncode != 0:
        pytest.fail(f"{zpath} is not up to date with the sources (make -q: {q.returncode}): "
                    f"run make\n{q.stdout}{q.stderr}")

    # The fresh build must not touch build/: its own BUILD, the shared DEPS
    # only read (and make must not want to rebuild them).
    tmp_build = tmp_path / "build"
    target = tmp_build / f"{fn}.zip"
    args = ["-j2", "V=1", f"BUILD={tmp_build}", f"DEPS={deps}", str(target)]
    dry = _make("-n", *args)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "deps.sh" not in dry.stdout, f"make would rebuild {deps}:\n{dry.stdout}"
    # (build/ itself may be rebuilt concurrently by someone else's `make`: only
    # the shared deps are fingerprinted, the rest is checked on make's commands)
    watched = [deps / ".stamp", deps / "prefix" / "lib" / "libcurl.a"]
    before = _fingerprint(watched)

    t0 = time.monotonic()
    r = _make(*args)
    took = time.monotonic() - t0
    assert r.returncode == 0, f"rebuild failed:\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}"
    assert _fingerprint(watched) == before, f"the temporary build touched {deps}"
    outputs = []
    for line in r.stdout.splitlines():
        words = line.split()
        outputs += [words[i + 1] for i, w in enumerate(words[:-1]) if w == "-o"]
        if "scripts/zip.py" in words:
            outputs.append(words[words.index("scripts/zip.py") + 1])
    assert outputs, f"make ran no compiler or zip command:\n{r.stdout}"
    strays = [o for o in outputs if not o.startswith(str(tmp_build) + "/")]
    assert not strays, f"the temporary build wrote outside {tmp_build}: {strays}"

    fresh, built = target.read_bytes(), zpath.read_bytes()
    if fresh != built:
        same_bin = (tmp_build / fn / "bootstrap").read_bytes() == (BUILD / fn / "bootstrap").read_bytes()
        pytest.fail(f"a rebuild of {fn}.zip ({len(fresh)} bytes, {took:.0f}s) differs from "
                    f"{zpath} ({len(built)} bytes); bootstraps identical: {same_bin}")


# --------------------------------------------------------------------------
# Certificates (openssl)
# --------------------------------------------------------------------------

def _openssl(cwd, *args):
    p = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                       timeout=60, env={"PATH": "/usr/bin:/bin", "LANG": "C"})
    assert p.returncode == 0, f"openssl {' '.join(args)}:\n{p.stderr}"


def _make_ca(d, name):
    _openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.crt", "-days", "2",
             "-subj", f"/CN=devcloud test {name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return d / f"{name}.crt"


def _make_server(d, name, ca, san):
    ext = d / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\n"
                   "basicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature,keyEncipherment\n"
                   "extendedKeyUsage=serverAuth\n"
                   "authorityKeyIdentifier=keyid,issuer\n"
                   "subjectKeyIdentifier=hash\n")
    _openssl(d, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", f"/CN={san.split(',')[0].split(':', 1)[1]}")
    _openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", ext.name,
             "-out", f"{name}.crt")
    return d / f"{name}.crt", d / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    out = {"ca": _make_ca(d, "ca"), "other_ca": _make_ca(d, "other-ca")}
    out["localhost"] = _make_server(d, "localhost", "ca", "DNS:localhost,IP:127.0.0.1")
    out["other_host"] = _make_server(d, "other-host", "ca", "DNS:other.example")
    return out


# --------------------------------------------------------------------------
# Running a bootstrap, on the host or in a minimal chroot
# --------------------------------------------------------------------------

def _env(aws, endpoint, **extra):
    """Lambda's environment, from scratch, with the endpoint given as a host name."""
    env = base_env(aws=aws)
    env["AWS_ENDPOINT_URL"] = endpoint
    env.pop("SSL_CERT_FILE", None)
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def _make_root(tmp_path, bootstrap, ca=None, ca_path=LAMBDA_CA_PATH):
    """A root holding only /bootstrap, /etc/hosts, /etc/resolv.conf (and the CA)."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    shutil.copy2(bootstrap, root / "bootstrap")
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (root / "etc" / "resolv.conf").write_text("nameserver 127.0.0.1\n")
    if ca is not None:
        dest = root / ca_path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ca, dest)
    os.chmod(root, 0o755)
    return root


def _run_chroot(root, env, event=b"{}"):
    p = subprocess.run(["/usr/sbin/chroot", str(root), "/bootstrap", "--event", "-"],
                       input=event, env=env, capture_output=True, timeout=60)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def _assert_devboxes_stopped(aws, rc, out, err):
    assert rc == 0, f"rc={rc}\n--- stdout\n{out}\n--- stderr\n{err}"
    resp = json.loads(out)
    assert sorted(resp["stopped"]) == DEVBOXES, resp
    assert resp["failed"] == [] and resp["dry_run"] is False, resp
    states = {i["id"]: i["state"] for i in aws.state()["instances"]}
    for iid in DEVBOXES:
        assert states[iid] in ("stopping", "stopped"), states
    assert states[OTHER] == "running", states
    stopped = sorted(i for c in aws.calls("StopInstances") for i in c["params"]["InstanceIds"])
    assert stopped == DEVBOXES


def _assert_tls_refused(aws, rc, out, err):
    assert rc == 1, f"rc={rc}\n--- stdout\n{out}\n--- stderr\n{err}"
    resp = json.loads(out)
    text = f"{resp.get('errorType', '')} {resp.get('errorMessage', '')}".lower()
    assert resp.get("errorType") and resp.get("errorMessage"), resp
    assert any(w in text for w in ("tls", "ssl", "certificate")), resp
    assert aws.calls() == [], "a request got through despite the TLS failure"
    assert "retrying" not in err.lower(), f"a TLS verification failure was retried:\n{err}"
    assert not any(s["state"] != "running" for s in aws.state()["instances"])


# --------------------------------------------------------------------------
# 3. Chroot: nothing but the binary, hosts, resolv.conf and a CA bundle
# --------------------------------------------------------------------------

@needs_root
@pytest.mark.parametrize("ca_path,ssl_cert_file", [
    pytest.param(LAMBDA_CA_PATH, None, id="lambda-default-path"),
    pytest.param("/opt/devcloud/test-ca.pem", "/opt/devcloud/test-ca.pem", id="ssl-cert-file"),
])
def test_chroot_stops_devboxes_over_verified_tls(tmp_path, pki, ca_path, ssl_cert_file):
    root = _make_root(tmp_path, _bootstrap("stopper"), ca=pki["ca"], ca_path=ca_path)
    if ssl_cert_file:
        for p in DEFAULT_CA_PATHS:
            assert not (root / p.lstrip("/")).exists()
    cert, key = pki["localhost"]
    with AwsEmu(state=STATE, tls_cert=cert, tls_key=key) as aws:
        env = _env(aws, f"https://localhost:{aws.port}", SSL_CERT_FILE=ssl_cert_file)
        rc, out, err = _run_chroot(root, env)
        _assert_devboxes_stopped(aws, rc, out, err)


@needs_root
def test_chroot_without_ca_bundle_refuses(tmp_path, pki):
    """Control for the test above: with no CA bundle at all, nothing is sent."""
    root = _make_root(tmp_path, _bootstrap("stopper"), ca=None)
    cert, key = pki["localhost"]
    with AwsEmu(state=STATE, tls_cert=cert, tls_key=key) as aws:
        env = _env(aws, f"https://localhost:{aws.port}", AWS_MAX_ATTEMPTS=3)
        rc, out, err = _run_chroot(root, env)
        assert rc == 1, f"rc={rc}\n--- stdout\n{out}\n--- stderr\n{err}"
        assert aws.calls() == []
        assert "retrying" not in err.lower(), err


# --------------------------------------------------------------------------
# 4. TLS refusals (on the host)
# --------------------------------------------------------------------------

def test_tls_with_the_right_ca_works(pki):
    """Control for the refusals below: same setup, the right CA and host name."""
    cert, key = pki["localhost"]
    with AwsEmu(state=STATE, tls_cert=cert, tls_key=key) as aws:
        env = _env(aws, f"https://localhost:{aws.port}", SSL_CERT_FILE=pki["ca"])
        rc, out, err = run_local(_bootstrap("stopper"), {}, env=env, aws=None, timeout_s=60)
        _assert_devboxes_stopped(aws, rc, out, err)


@pytest.mark.parametrize("server_cert,client_ca", [
    ("localhost", "other_ca"),      # a CA we do not trust
    ("other_host", "ca"),           # a trusted CA, but a certificate for another host
], ids=["unknown-ca", "certificate-for-another-host"])
def test_tls_refusal_is_not_retried(pki, server_cert, client_ca):
    cert, key = pki[server_cert]
    with AwsEmu(state=STATE, tls_cert=cert, tls_key=key) as aws:
        env = _env(aws, f"https://localhost:{aws.port}", SSL_CERT_FILE=pki[client_ca],
                   AWS_MAX_ATTEMPTS=3)
        rc, out, err = run_local(_bootstrap("stopper"), {}, env=env, timeout_s=60)
        _assert_tls_refused(aws, rc, out, err)


# --------------------------------------------------------------------------
# 5. glibc's NSS and dlopen are never reached
# --------------------------------------------------------------------------

# A wrapper stays in the binary only when something still calls the function it wraps
# (--gc-sections drops the others): c-ares's getservbyname and getservbyport_r do.
TRAP_MESSAGE = re.compile(r"nss_trap: \w+ was called in a static build")


def _strings(path):
    p = subprocess.run(["strings", "-a", str(path)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.mark.parametrize("fn", FUNCTIONS)
def test_nss_trap_build_has_the_wrappers(fn):
    trap = _require(BUILD / "nss-trap" / fn / "bootstrap")
    assert TRAP_MESSAGE.search(_strings(trap)), f"{trap} was linked without the NSS trap"
    assert "nss_trap:" not in _strings(_bootstrap(fn)), "the release bootstrap has the trap"


def test_nss_trap_build_resolves_and_runs(tmp_path):
    trap = _require(BUILD / "nss-trap" / "stopper" / "bootstrap")
    with AwsEmu(state=STATE) as aws:
        env = _env(aws, f"http://localhost:{aws.port}")   # a name: c-ares resolves it
        if IS_ROOT:
            rc, out, err = _run_chroot(_make_root(tmp_path, trap), env)
        else:
            rc, out, err = run_local(trap, {}, env=env, timeout_s=60)
        assert "nss_trap:" not in err, err
        _assert_devboxes_stopped(aws, rc, out, err)
