"""Bot API requests as they arrive: parameters from a query string, a form, multipart or JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl


class ApiError(Exception):
    """An error answer of the Bot API: HTTP status, description and optional parameters."""

    def __init__(self, status: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram answers with."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(reason: str) -> ApiError:
    """A 400 answer, worded as Telegram words them: "Bad Request: <reason>"."""
    return ApiError(400, f"Bad Request: {reason}")


@dataclass(frozen=True)
class Upload:
    """A file uploaded as multipart/form-data."""

    filename: str
    content: bytes


class Params:
    """A method's parameters. Form values are strings (non-strings JSON-encoded, as PTB sends
    them); a JSON body may hold native values. The getters accept both."""

    def __init__(self, values: Mapping[str, Any], files: Mapping[str, Upload]) -> None:
        self._values = dict(values)
        self._files = dict(files)

    def __contains__(self, name: str) -> bool:
        return name in self._values or name in self._files

    def get_str(self, name: str) -> str | None:
        """A string parameter (numbers in a JSON body are turned into their text)."""
        value = self._values.get(name)
        if value is None or isinstance(value, str):
            return value
        return json.dumps(value) if isinstance(value, dict | list | bool) else str(value)

    def get_int(self, name: str) -> int | None:
        """An integer parameter; 400 if it is not one."""
        value = self._values.get(name)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_float(self, name: str) -> float | None:
        """A number parameter; 400 if it is not one."""
        value = self._values.get(name)
        if value is None or value == "":
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad_request(f"invalid {name} specified") from None

    def get_bool(self, name: str) -> bool:
        """A Boolean parameter; absent is False."""
        value = self._values.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    def get_json(self, name: str) -> Any:
        """A JSON-serialized parameter (an object or array); 400 if it does not parse."""
        value = self._values.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f"can't parse {name} JSON object") from None

    def get_file(self, name: str) -> Upload | str | None:
        """A file parameter: the upload, or the string (a file_id or URL) sent instead."""
        if name in self._files:
            return self._files[name]
        value = self.get_str(name)
        if value and value.startswith("attach://"):
            attached = self._files.get(value.removeprefix("attach://"))
            if attached is None:
                raise bad_request(f"wrong {name} specified: file {value} not found")
            return attached
        return value


def decode_params(content_type: str, body: bytes, query: str) -> Params:
    """The parameters of a request from its query string and body; 400 if the body is garbled."""
    values: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    files: dict[str, Upload] = {}
    header = _header("Content-Type", content_type or "application/octet-stream")
    kind = header.get_content_type()
    try:
        if kind == "application/json" and body.strip():
            decoded = json.loads(body)
            if not isinstance(decoded, dict):
                raise ValueError("not an object")
            values.update(decoded)
        elif kind == "application/x-www-form-urlencoded":
            values.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        elif kind == "multipart/form-data":
            boundary = header.get_param("boundary")
            if not isinstance(boundary, str):
                raise ValueError("no boundary")
            _read_multipart(body, boundary.encode(), values, files)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"can't parse request body: {exc}") from None
    return Params(values, files)


def _header(name: str, value: str) -> Message:
    return BytesHeaderParser(policy=HTTP).parsebytes(f"{name}: {value}\r\n\r\n".encode())


def _read_multipart(
    body: bytes, boundary: bytes, values: dict[str, Any], files: dict[str, Upload]
) -> None:
    for part in body.split(b"--" + boundary)[1:]:
        if part.startswith(b"--"):
            break  # the closing delimiter
        head, separator, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            raise ValueError("malformed multipart part")
        headers = BytesHeaderParser(policy=HTTP).parsebytes(head + b"\r\n\r\n")
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("multipart part without a name")
        content = content.removesuffix(b"\r\n")
        filename = headers.get_filename()
        if filename is None:
            values[name] = content.decode("utf-8")
        else:
            files[name] = Upload(filename, content)
