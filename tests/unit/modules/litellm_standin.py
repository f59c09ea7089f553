"""A STAND-IN for LiteLLM's admin API, for unit tests. It is NOT LiteLLM.

Real LiteLLM keeps teams and keys in PostgreSQL through Prisma, whose engines cannot be downloaded on this project's
machines, so these endpoints cannot run here for real. This in-memory server answers the routes the litellm_team
and litellm_key modules call, with the request and response shapes of LiteLLM's proxy management endpoints
(litellm 1.109.1: NewTeamRequest, UpdateTeamRequest, DeleteTeamRequest, GenerateKeyRequest, UpdateKeyRequest,
KeyRequest; GET /key/list with key_alias and return_full_object; GET /team/info; GET /team/list) and its behaviour
that matters for idempotence: generated team ids, keys stored only as their sha256 hash, unique key aliases,
merge-patch updates, bearer auth with the master key, and "No connected db." when started without a database.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

TEAM_DEFAULTS = {
    "models": [],
    "max_budget": None,
    "budget_duration": None,
    "rpm_limit": None,
    "tpm_limit": None,
    "metadata": {},
    "blocked": False,
    "spend": 0.0,
    "organization_id": None,
}
KEY_DEFAULTS = {
    "models": [],
    "max_budget": None,
    "budget_duration": None,
    "rpm_limit": None,
    "tpm_limit": None,
    "metadata": {},
    "team_id": None,
    "user_id": None,
    "spend": 0.0,
    "expires": None,
    "blocked": None,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class StandInLiteLLMAdmin:
    def __init__(self, master_key, database=True):
        self.master_key = master_key
        self.database = database
        self.teams = {}  # team_id -> row
        self.keys = {}  # token (sha256 of the key) -> row
        self.calls = []  # (method, path, body) for assertions
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def mutations(self):
        return [(m, p) for m, p, _b in self.calls if m == "POST"]

    def _handler(self):
        admin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def log_message(self, *args):
                pass

            def send(self, status, payload):
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def error(self, status, message, err_type="bad_request_error"):
                self.send(status, {"error": {"message": message, "type": err_type, "param": None, "code": str(status)}})

            def dispatch(self, method):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                admin.calls.append((method, url.path, body))
                if self.headers.get("Authorization") != f"Bearer {admin.master_key}":
                    self.error(401, "Authentication Error, Invalid proxy server token passed.", "auth_error")
                    return
                if not admin.database:
                    if url.path == "/key/generate":
                        self.error(500, "DB not connected", "internal_server_error")
                    elif url.path == "/key/list":
                        # the words a real LiteLLM 1.106.2 answers without DATABASE_URL
                        # (tests/integration/test_modules_litellm_admin.py)
                        message = "Authentication Error, Database not connected"
                        self.error(500, message, "internal_server_error")
                    else:
                        self.error(400, "No connected db.")
                    return
                route = getattr(self, "r_" + url.path.strip("/").replace("/", "_"), None)
                if route is None:
                    self.send(404, {"detail": "Not Found"})
                    return
                with admin.lock:
                    route(query, body)

            def do_GET(self):
                self.dispatch("GET")

            def do_POST(self):
                self.dispatch("POST")

            # --- teams -----------------------------------------------------------------------------------
            def r_team_new(self, query, body):
                team_id = body.get("team_id") or str(uuid.uuid4())
                if team_id in admin.teams:
                    self.error(400, f"Team id = {team_id} already exists. Please use a different team id.")
                    return
                row = dict(TEAM_DEFAULTS, team_alias=body.get("team_alias"), team_id=team_id)
                row.update({k: v for k, v in body.items() if k in TEAM_DEFAULTS and v is not None})
                admin.teams[team_id] = row
                self.send(200, row)

            def r_team_update(self, query, body):
                row = admin.teams.get(body.get("team_id"))
                if row is None:
                    self.error(404, f"Team not found, passed team_id={body.get('team_id')}", "not_found")
                    return
                row.update(
                    {k: v for k, v in body.items() if k != "team_id" and (k in TEAM_DEFAULTS or k == "team_alias")}
                )
                self.send(200, {"team_id": row["team_id"], "data": row})

            def r_team_info(self, query, body):
                row = admin.teams.get(query.get("team_id"))
                if row is None:
                    self.error(404, f"Team not found, passed team_id={query.get('team_id')}", "not_found")
                    return
                keys = [k for k in admin.keys.values() if k["team_id"] == row["team_id"]]
                self.send(200, {"team_id": row["team_id"], "team_info": row, "keys": keys, "team_memberships": []})

            def r_team_list(self, query, body):
                out = []
                for row in sorted(admin.teams.values(), key=lambda r: r.get("team_alias") or ""):
                    keys = [k for k in admin.keys.values() if k["team_id"] == row["team_id"]]
                    out.append(dict(row, keys=keys, team_memberships=[]))
                self.send(200, out)

            def r_team_delete(self, query, body):
                missing = [t for t in body.get("team_ids", []) if t not in admin.teams]
                if missing:
                    self.error(404, f"Team not found, passed team_id={missing[0]}", "not_found")
                    return
                for t in body["team_ids"]:
                    del admin.teams[t]
                self.send(200, {"deleted_teams": body["team_ids"]})

            # --- keys ------------------------------------------------------------------------------------
            def r_key_generate(self, query, body):
                alias = body.get("key_alias")
                if alias and any(k["key_alias"] == alias for k in admin.keys.values()):
                    self.error(
                        400, f"Unique key aliases across all keys are required. Key alias={alias} already exists."
                    )
                    return
                if body.get("team_id") and body["team_id"] not in admin.teams:
                    self.error(400, f"Team not found for team_id={body['team_id']}")
                    return
                key = body.get("key") or "sk-" + secrets.token_urlsafe(16)
                token = hashlib.sha256(key.encode()).hexdigest()
                row = dict(KEY_DEFAULTS, key_alias=alias, key_name="sk-..." + key[-4:], token=token)
                row.update({k: v for k, v in body.items() if k in KEY_DEFAULTS and v is not None})
                admin.keys[token] = row
                response = dict(row, key=key, token_id=token)
                response.pop("token")
                self.send(200, response)

            def _find_key(self, key):
                token = key if key and not key.startswith("sk-") else hashlib.sha256((key or "").encode()).hexdigest()
                return admin.keys.get(token)

            def r_key_update(self, query, body):
                row = self._find_key(body.get("key"))
                if row is None:
                    self.error(404, "Key not found", "not_found")
                    return
                row.update({k: v for k, v in body.items() if k in KEY_DEFAULTS})
                self.send(200, dict(row, key=body["key"]))

            def r_key_info(self, query, body):
                row = self._find_key(query.get("key"))
                if row is None:
                    self.error(404, "Key not found in database", "not_found")
                    return
                info = {k: v for k, v in row.items() if k != "token"}
                self.send(200, {"key": query.get("key"), "info": info})

            def r_key_list(self, query, body):
                rows = [
                    r for r in admin.keys.values() if "key_alias" not in query or r["key_alias"] == query["key_alias"]
                ]
                full = query.get("return_full_object") == "true"
                self.send(
                    200,
                    {
                        "keys": [dict(r) for r in rows] if full else [r["token"] for r in rows],
                        "total_count": len(rows),
                        "current_page": 1,
                        "total_pages": 1,
                    },
                )

            def r_key_delete(self, query, body):
                deleted = []
                for key in body.get("keys") or []:
                    row = self._find_key(key)
                    if row is None:
                        self.error(404, f"Key not found: {key}", "not_found")
                        return
                    deleted.append(key)
                    del admin.keys[row["token"]]
                self.send(200, {"deleted_keys": deleted})

        return Handler
