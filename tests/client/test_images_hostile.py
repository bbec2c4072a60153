"""``client.images`` against hostile answers, both clients: an image with no data at all
(an empty ``b64_json``, or neither ``b64_json`` nor ``url``) is a validation error when read
or saved, never an empty file, nor told to be "a link" it is not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nanogpt import APIResponseValidationError
from rawserver import answering, http_response


@pytest.mark.parametrize("item", [{"b64_json": ""}, {}, {"b64_json": None, "url": None}])
def test_an_image_without_data_is_refused_when_saved(make_client, raw_server, tmp_path: Path,
                                                     item: dict[str, Any]) -> None:
    srv = raw_server(answering(http_response(200, json.dumps({"data": [item]}).encode())))
    client = make_client(base_url=srv.base_url)
    r = client.images.generate(prompt="a cat")
    assert srv.count("POST") == 1
    with pytest.raises(APIResponseValidationError, match="no image"):
        r.data[0].bytes()
    with pytest.raises(APIResponseValidationError, match="no image"):
        r.data[0].save(tmp_path / "cat.png")
    assert not (tmp_path / "cat.png").exists()
