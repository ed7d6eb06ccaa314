"""A peer of shadowd speaking raw wire frames (sync/wire.h) over TLS 1.3
with a certificate of the test CA: the integration tests that play a
hostile or broken authenticated peer (a half-sent frame, an upload that
declares more than it sends, a delta bomb). lib.sh puts this directory on
PYTHONPATH."""
import socket
import ssl
import struct

HEADER = struct.Struct(">IBBHQII")  # magic version type flags req_id length status


def connect(port, certs, name="client"):
    """A TLS connection to 127.0.0.1:port with certs/NAME.crt and .key,
    trusting certs/ca.crt (as it_ca makes them)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_verify_locations(certs + "/ca.crt")
    ctx.load_cert_chain(certs + "/" + name + ".crt", certs + "/" + name + ".key")
    return ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port))))


def frame(type_, payload, req_id=9):
    """One request frame: the 24-byte header, then payload."""
    return HEADER.pack(0x53484457, 1, type_, 0, req_id, len(payload), 0) + payload


def recv_header(s):
    """(type, status) of the next frame (its payload left unread), or None
    when the connection ends first."""
    h = b""
    while len(h) < HEADER.size:
        d = s.recv(HEADER.size - len(h))
        if not d:
            return None
        h += d
    f = HEADER.unpack(h)
    return f[2], f[6]
