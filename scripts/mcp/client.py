"""An MCP client, the official MCP Python SDK's, driven line by line for tests and demos.

    python scripts/mcp/client.py --url http://127.0.0.1:9100/mcp --token "$MCP_TOKEN"

It initializes a session (Streamable HTTP), prints one JSON line, then reads one JSON command
per line from stdin and prints one JSON line per command:

    {"op": "list_tools"}                      -> {"ok": true, "tools": [...]}
    {"op": "call", "tool": "add", "args": {}} -> {"ok": true, "result": ...}
    {"op": "start", "tool": "countdown", "args": {"seconds": 30}}  (runs in the background)
    {"op": "join"}                            -> the started call's outcome and its seconds
    {"op": "close"}                           -> ends the session (DELETE), then exits

A failed command prints {"ok": false, "error": ..., "statuses": [HTTP statuses seen]}.
Without commands (`--demo`) it lists the tools, calls `add` and exits.
"""

import argparse
import json
import sys
import time

import anyio
import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import Implementation

CLIENT_INFO = Implementation(name="sessions-example-client", version="0.3.1", title="Example client")


def emit(value: dict) -> None:
    print(json.dumps(value, default=str), flush=True)


async def run(args: argparse.Namespace) -> None:
    statuses: list[int] = []
    session_ids: list[str] = []

    async def record(response: httpx2.Response) -> None:
        statuses.append(response.status_code)
        sid = response.headers.get("mcp-session-id")
        if sid and sid not in session_ids:
            session_ids.append(sid)

    http = httpx2.AsyncClient(
        headers={"Authorization": f"Bearer {args.token}", "User-Agent": "sessions-example-client/0.3.1"},
        timeout=httpx2.Timeout(30.0, read=300.0),
        event_hooks={"response": [record]},
    )
    async with http, streamable_http_client(args.url, http_client=http, terminate_on_close=True) as (read, write):
        async with ClientSession(read, write, client_info=CLIENT_INFO, read_timeout_seconds=args.timeout) as session:
            init = await session.initialize()
            emit({"ok": True, "event": "initialized", "server": init.server_info.name,
                  "mcpSessionId": session_ids[0] if session_ids else None})
            if args.demo:
                tools = await session.list_tools()
                result = await session.call_tool("add", {"a": 2, "b": 3})
                emit({"ok": True, "tools": [t.name for t in tools.tools],
                      "add": [c.text for c in result.content if hasattr(c, "text")]})
                return
            await serve_commands(session, statuses)


async def call(session: ClientSession, tool: str, arguments: dict) -> dict:
    result = await session.call_tool(tool, arguments)
    texts = [c.text for c in result.content if hasattr(c, "text")]
    return {"ok": not result.is_error, "result": texts}


async def serve_commands(session: ClientSession, statuses: list[int]) -> None:
    started: dict = {}
    async with anyio.create_task_group() as tg:

        async def background(tool: str, arguments: dict) -> None:
            began = time.monotonic()
            try:
                started["outcome"] = await call(session, tool, arguments)
            except Exception as error:  # the outcome is reported, whatever it is
                started["outcome"] = {"ok": False, "error": repr(error)}
            started["outcome"]["seconds"] = round(time.monotonic() - began, 3)
            started["done"].set()

        while True:
            line = await anyio.to_thread.run_sync(sys.stdin.readline)
            if not line:
                break
            command = json.loads(line)
            op = command.get("op")
            mark = len(statuses)
            try:
                if op == "list_tools":
                    tools = await session.list_tools()
                    emit({"ok": True, "tools": [t.name for t in tools.tools]})
                elif op == "call":
                    emit(await call(session, command["tool"], command.get("args", {})))
                elif op == "start":
                    started["done"] = anyio.Event()
                    tg.start_soon(background, command["tool"], command.get("args", {}))
                    emit({"ok": True, "started": command["tool"]})
                elif op == "join":
                    await started["done"].wait()
                    emit({**started["outcome"], "statuses": statuses[mark:]})
                elif op == "close":
                    emit({"ok": True, "closing": True})
                    break
                else:
                    emit({"ok": False, "error": f"unknown op {op!r}"})
            except Exception as error:  # reported to the driver, which decides
                emit({"ok": False, "error": repr(error), "statuses": statuses[mark:]})
        tg.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--demo", action="store_true")
    args = parser.parse_args()
    try:
        anyio.run(run, args)
    except Exception as error:
        emit({"ok": False, "error": repr(error)})
        sys.exit(1)


if __name__ == "__main__":
    main()
