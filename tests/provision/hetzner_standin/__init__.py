"""STAND-INS for the Hetzner Cloud API and the Hetzner Robot web service, for the provision tests.

They are NOT Hetzner. Neither API is reachable from this project's machines, so these in-memory servers on loopback
answer the requests that hetzner.hcloud and community.hrobot make, with the request and response shapes of Hetzner's
public API documentation. A run against them proves the playbooks' logic (what is created, changed, left alone and
deleted, and what is refused before any call); only a real Hetzner account proves the real thing.
"""
