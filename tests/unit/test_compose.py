"""docker-compose.yml and the Dockerfile, checked without a Docker engine."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("intake", "tagger", "dedup", "pusher")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_is_valid_against_the_compose_specification(compose: dict) -> None:
    """The file validates against the vendored Compose Specification JSON Schema."""
    schema = json.loads((ROOT / "tests" / "schemas" / "compose-spec.json").read_text())
    jsonschema.Draft7Validator(schema).validate(compose)


def test_redis_runs_with_aof_and_a_healthcheck(compose: dict) -> None:
    """Redis keeps an append-only file and reports health, so services can wait for it."""
    redis = compose["services"]["redis"]
    assert "--appendonly" in redis["command"]
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert "redis-cli" in redis["healthcheck"]["test"]


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_uses_the_one_image_and_waits_for_healthy_redis(compose: dict, service: str) -> None:
    """All four services come from one image and start only once Redis is healthy."""
    spec = compose["services"][service]
    assert spec["image"] == "newswire:local"
    assert spec["build"] == "."
    assert spec["depends_on"]["redis"]["condition"] == "service_healthy"
    assert spec["command"] == ["newswire", service]
    assert spec["environment"]["NEWSWIRE_REDIS_URL"].startswith("redis://redis:")


def test_dockerfile_builds_the_same_install_as_make() -> None:
    """The image installs through `make install`, the same path as `make run` and `make test`."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "RUN make install" in dockerfile
