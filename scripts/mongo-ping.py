#!/usr/bin/env python3
"""Send a MongoDB `ping` command over the wire protocol and check `ok: 1`.

Standard library only (there is no mongosh in Debian). Used by
scripts/devstack.sh to wait for its MongoDB-protocol server and to name it;
usable by hand:

    scripts/mongo-ping.py 127.0.0.1:27018
    scripts/mongo-ping.py "$ECOM_MONGODB_URI"
    scripts/mongo-ping.py --server "$ECOM_MONGODB_URI"
    scripts/mongo-ping.py --tls-ca ca.crt localhost:27018
    scripts/mongo-ping.py "mongodb://localhost:27018/?tls=true&tlsCAFile=ca.crt"

--server prints the server's name, version and backend as its buildInfo
gives them, the same words ecom_store_server() (src/lib/ecom_store.h) puts
in the reports: "mongo-java-server 1.47.0 (memory)", "FerretDB 1.24.2
(SQLite)", "MongoDB 7.0.14".

Exit status: 0 when the server answered ok: 1, 1 otherwise, 2 on bad usage.
"""

import argparse
import os
import socket
import ssl
import struct
import urllib.parse
import sys

OP_MSG = 2013


def bson_cstring(s):
    return s.encode("utf-8") + b"\x00"


def bson_command_doc(name):
    """{<name>: int32 1, $db: "admin"} hand-encoded."""
    body = b"\x10" + bson_cstring(name) + struct.pack("<i", 1)
    db = "admin".encode("utf-8")
    body += b"\x02" + bson_cstring("$db") + struct.pack("<i", len(db) + 1) + db + b"\x00"
    return struct.pack("<i", len(body) + 5) + body + b"\x00"


def op_msg(request_id, doc):
    payload = struct.pack("<I", 0) + b"\x00" + doc  # flagBits, section kind 0
    header = struct.pack("<iiii", 16 + len(payload), request_id, 0, OP_MSG)
    return header + payload


# sizes of fixed-width BSON element types
_FIXED = {0x01: 8, 0x07: 12, 0x08: 1, 0x09: 8, 0x0A: 0, 0x10: 4, 0x11: 8,
          0x12: 8, 0x13: 16, 0x06: 0, 0xFF: 0, 0x7F: 0}


def bson_top_level(doc):
    """Decode the fields of a BSON document that matter here.

    Numbers, booleans, strings and embedded documents are decoded; other
    values are skipped.
    """
    (total,) = struct.unpack_from("<i", doc, 0)
    if total > len(doc) or total < 5:
        raise ValueError("truncated BSON document")
    out = {}
    i = 4
    while i < total - 1:
        t = doc[i]
        i += 1
        end = doc.index(b"\x00", i)
        name = doc[i:end].decode("utf-8", "replace")
        i = end + 1
        if t == 0x01:
            out[name] = struct.unpack_from("<d", doc, i)[0]
            i += 8
        elif t == 0x10:
            out[name] = struct.unpack_from("<i", doc, i)[0]
            i += 4
        elif t == 0x12:
            out[name] = struct.unpack_from("<q", doc, i)[0]
            i += 8
        elif t == 0x08:
            out[name] = doc[i] != 0
            i += 1
        elif t in (0x02, 0x0D, 0x0E):  # string, javascript, symbol
            (n,) = struct.unpack_from("<i", doc, i)
            out[name] = doc[i + 4:i + 4 + n - 1].decode("utf-8", "replace")
            i += 4 + n
        elif t == 0x03:  # document
            (n,) = struct.unpack_from("<i", doc, i)
            out[name] = bson_top_level(doc[i:i + n])
            i += n
        elif t in (0x04, 0x0F):  # array, code_w_scope
            (n,) = struct.unpack_from("<i", doc, i)
            i += n
        elif t == 0x05:  # binary: int32 length, subtype, bytes
            (n,) = struct.unpack_from("<i", doc, i)
            i += 4 + 1 + n
        elif t == 0x0B:  # regex: two cstrings
            i = doc.index(b"\x00", i) + 1
            i = doc.index(b"\x00", i) + 1
        elif t == 0x0C:  # dbpointer: string + 12 bytes
            (n,) = struct.unpack_from("<i", doc, i)
            i += 4 + n + 12
        elif t in _FIXED:
            i += _FIXED[t]
        else:
            raise ValueError("unknown BSON type 0x%02x" % t)
    return out


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by server")
        buf += chunk
    return buf


def parse_target(target):
    """Accept HOST:PORT or mongodb://HOST:PORT[/db][?opts]."""
    t = target
    if t.startswith("mongodb://"):
        t = t[len("mongodb://"):]
        t = t.split("/", 1)[0].split("?", 1)[0]
        if "@" in t:
            t = t.rsplit("@", 1)[1]
        t = t.split(",", 1)[0]
    if t.startswith("["):  # [::1]:port
        host, _, rest = t[1:].partition("]")
        port = rest.lstrip(":") or "27017"
    elif ":" in t:
        host, port = t.rsplit(":", 1)
    else:
        host, port = t, "27017"
    return host or "127.0.0.1", int(port)


def connect(host, port, timeout, ca_file):
    """A TCP connection, in TLS verified against ca_file when one is given."""
    s = socket.create_connection((host, port), timeout=timeout)
    if ca_file is None:
        return s
    ctx = ssl.create_default_context(cafile=ca_file or None)
    try:
        return ctx.wrap_socket(s, server_hostname=host)
    except Exception:
        s.close()
        raise


def command(host, port, timeout, name, ca_file=None):
    with connect(host, port, timeout, ca_file) as s:
        s.settimeout(timeout)
        request_id = (os.getpid() & 0x7FFF) + 1
        s.sendall(op_msg(request_id, bson_command_doc(name)))
        length, _, response_to, opcode = struct.unpack("<iiii", recv_exact(s, 16))
        if length < 21 or length > 48 * 1024 * 1024:
            raise ValueError("bad reply length %d" % length)
        body = recv_exact(s, length - 16)
    if opcode != OP_MSG:
        raise ValueError("unexpected reply opcode %d" % opcode)
    if response_to != request_id:
        raise ValueError("reply is for request %d, not %d" % (response_to, request_id))
    if body[4] != 0:
        raise ValueError("unexpected first section kind %d" % body[4])
    return bson_top_level(body[5:])


def server_name(info):
    """Name, version and backend from a buildInfo reply.

    The dev stack's launchers make their servers say what they are:
    mongo-java-server in {mongoJavaServer: {version, backend}}, FerretDB in
    ferretdbVersion ("v1.24.2+sqlite": the backend as semver build
    metadata). A server that says neither and has no gitVersion is no
    mongod, whatever version it gives.
    """
    mjs = info.get("mongoJavaServer")
    if isinstance(mjs, dict):
        return "mongo-java-server %s (%s)" % (mjs.get("version", "unknown"), mjs.get("backend", "unknown"))
    ferret = info.get("ferretdbVersion")
    if isinstance(ferret, str):
        version, _, build = ferret.lstrip("v").partition("+")
        name = "FerretDB %s" % (version or "unknown")
        backends = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
        return name + (" (%s)" % backends.get(build, build) if build else "")
    version = info.get("version", "unknown")
    if "gitVersion" not in info:
        return "MongoDB-protocol server (says MongoDB %s)" % version
    return "MongoDB %s" % version


def uri_tls_ca(target):
    """The CA a mongodb:// URI asks TLS with (tls=true or ssl=true, tlsCAFile):
    None when it asks no TLS, "" for the system's CAs."""
    if not target.startswith("mongodb://") or "?" not in target:
        return None
    opts = {}
    for kv in target.split("?", 1)[1].split("&"):
        k, _, v = kv.partition("=")
        opts[k.lower()] = urllib.parse.unquote(v)
    if opts.get("tls", opts.get("ssl", "false")).lower() != "true":
        return None
    return opts.get("tlscafile", "")


def main(argv):
    ap = argparse.ArgumentParser(
        prog="mongo-ping.py",
        description="Send {ping: 1} to a MongoDB wire-protocol server; exit 0 if ok: 1.")
    ap.add_argument("target", help="HOST:PORT or mongodb://HOST:PORT/...")
    ap.add_argument("-t", "--timeout", type=float, default=3.0, help="seconds (default 3)")
    ap.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    ap.add_argument("--server", action="store_true",
                    help="print the server's name, version and backend (from buildInfo)")
    ap.add_argument("--tls-ca", metavar="FILE",
                    help="connect with TLS, the server's certificate verified against FILE")
    args = ap.parse_args(argv)

    try:
        host, port = parse_target(args.target)
    except ValueError:
        print("mongo-ping: bad target %r" % args.target, file=sys.stderr)
        return 2
    try:
        ca_file = args.tls_ca if args.tls_ca is not None else uri_tls_ca(args.target)
        reply = command(host, port, args.timeout, "buildInfo" if args.server else "ping", ca_file)
    except (OSError, ValueError, ConnectionError, struct.error) as e:
        print("mongo-ping: %s:%d: %s" % (host, port, e), file=sys.stderr)
        return 1
    ok = reply.get("ok")
    if ok is True or (isinstance(ok, (int, float)) and ok == 1):
        if args.server:
            print(server_name(reply))
        elif not args.quiet:
            print("mongo-ping: %s:%d: ok" % (host, port))
        return 0
    print("mongo-ping: %s:%d: ping failed: %r" % (host, port, reply), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
