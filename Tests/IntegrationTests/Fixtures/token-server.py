#!/usr/bin/env python3
"""A registry token service for the Bearer tests (the distribution spec's token flow): checks
Basic credentials against USER:PASSWORD and answers {"token": JWT} for the scopes asked, signed
RS256 with KEY (through openssl) and carrying CERT in x5c, which the registry trusts.

usage: token-server.py PORT TLS_CERT TLS_KEY SIGN_KEY SIGN_CERT USER:PASSWORD ISSUER SERVICE"""
import base64, http.server, json, signal, ssl, subprocess, sys, time, urllib.parse, uuid

# A test runner may start us with SIGTERM blocked; stopping must still work.
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])

port, tls_cert, tls_key, sign_key, sign_cert, credentials, issuer, service = sys.argv[1:9]


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der(cert_path):
    pem = open(cert_path).read()
    body = "".join(line for line in pem.splitlines() if "CERTIFICATE" not in line)
    return body


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        sys.stderr.write("token-server: " + (fmt % args) + "\n")
        sys.stderr.flush()

    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic ") or base64.b64decode(auth[6:]).decode() != credentials:
            self.send_response(401)
            self.end_headers()
            return
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [der(sign_cert)]}
        claims = {"iss": issuer, "sub": credentials.split(":")[0], "aud": service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()), "access": access}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", sign_key], input=signing_input.encode(),
                                   capture_output=True, check=True).stdout
        body = json.dumps({"token": signing_input + "." + b64url(signature)}).encode()
        sys.stderr.write("token-server: issued " + " ".join(query.get("scope", [])) + "\n")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(tls_cert, tls_key)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
