"""The client and the server's API in step: every route the client uses exists in
/api/v1/openapi.json with its method and path template, and every query parameter and body
field the client sends is documented there."""
from __future__ import annotations

import re
import unittest
from typing import Any, Dict, Set

from modelreg._routes import ROUTES
from support import OnTeamServer


def resolve(document: Dict[str, Any], schema: Dict[str, Any]) -> Dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def properties(document: Dict[str, Any], schema: Dict[str, Any]) -> Set[str]:
    schema = resolve(document, schema)
    names = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        names |= properties(document, part)
    return names


class OpenApiInStep(OnTeamServer, unittest.TestCase):
    def test_every_route_the_client_uses_is_documented(self) -> None:
        document = self.server.openapi()
        paths = document["paths"]
        for name, route in ROUTES.items():
            with self.subTest(route=name):
                self.assertIn(route.path, paths, f"{name}: {route.path} is not in the server's API")
                operation = paths[route.path].get(route.method.lower())
                self.assertIsNotNone(operation, f"{name}: {route.method} {route.path} is not in the server's API")
                self.assertEqual(operation["operationId"], name)
                parameters = operation.get("parameters", [])
                path_params = {p["name"] for p in parameters if p["in"] == "path"}
                self.assertEqual(path_params, set(re.findall(r"\{(\w+)\}", route.path)))
                query = {p["name"] for p in parameters if p["in"] == "query"}
                self.assertLessEqual(set(route.query), query, f"{name}: query parameters the server does not document")
                if route.body:
                    content = operation["requestBody"]["content"]["application/json"]
                    fields = properties(document, content["schema"])
                    self.assertLessEqual(set(route.body), fields, f"{name}: body fields the server does not document")

    def test_streamed_bodies(self) -> None:
        paths = self.server.openapi()["paths"]
        metrics = paths[ROUTES["logMetrics"].path]["post"]["requestBody"]["content"]
        self.assertIn("application/x-ndjson", metrics)
        for name in ("putBlob", "storeBlob"):
            route = ROUTES[name]
            self.assertIn("application/octet-stream", paths[route.path][route.method.lower()]["requestBody"]["content"])
        download = paths[ROUTES["openBlob"].path]["get"]
        self.assertIn("Range", {p["name"] for p in download["parameters"]})
        self.assertIn("206", download["responses"])


if __name__ == "__main__":
    unittest.main()
