"""An example MCP server, built with the official MCP Python SDK, served over Streamable HTTP.

It stands for "any MCP server": the gateway fronts it unchanged. `make dev` and the gateway
tests run it; it knows nothing of sessions, tokens or the gateway.

    python scripts/mcp/example_server.py --port 8765      # serves http://127.0.0.1:8765/mcp
"""

import argparse
import asyncio

import uvicorn
from mcp.server.mcpserver import Context, MCPServer

server = MCPServer(name="example-tools", version="1.0.0")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def echo(text: str) -> str:
    """Say the text back."""
    return text


@server.tool()
async def countdown(seconds: int, ctx: Context) -> str:
    """Count down for `seconds`, one progress notification a second (an SSE answer)."""
    for left in range(seconds, 0, -1):
        await ctx.report_progress(seconds - left, seconds, f"{left} s left")
        await asyncio.sleep(1)
    return "done"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    app = server.streamable_http_app(host=args.host)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
