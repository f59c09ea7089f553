# -*- coding: utf-8 -*-
# Copyright (c) the inference.platform collection contributors
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
# SPDX-License-Identifier: Apache-2.0

from __future__ import annotations


class ModuleDocFragment(object):
    # Options shared by every module that talks to an HTTP endpoint (module_utils/_api.py endpoint_argument_spec).
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - Base URL of the endpoint, without the C(/v1) suffix, for example V(http://vllm.inference.svc:8000) or
        V(https://llm.example.com).
      - Paths such as C(/v1/models) or C(/key/list) are appended to it.
    type: str
    required: true
  api_key:
    description:
      - "Bearer token sent as C(Authorization: Bearer <api_key>)."
      - For LiteLLM this is a virtual key, or the master key for the admin endpoints; for vLLM the value of its
        C(--api-key).
      - Never written to the output, the error message or the diff.
    type: str
  timeout:
    description:
      - Seconds to wait for one HTTP request (connect and each read).
    type: float
    default: 10
  validate_certs:
    description:
      - Verify the endpoint's TLS certificate. Set to V(false) only for a lab endpoint with a self-signed certificate.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of CA certificates to trust for the endpoint, for a private CA.
    type: path
"""
