"""Commands of the campaign API: ``campaign serve``, ``campaign keys …``, ``campaign audit …`` and ``campaign chat``.

Plain Typer-annotated functions (and the ``keys_app`` and ``audit_app`` groups) that :mod:`agent.cli` mounts.
Every failure is one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from agent.settings import Settings, get_settings
from serve.database import now
from serve.store import Store

console = Console(stderr=True)
keys_app = typer.Typer(help="Create, list and revoke API keys of the campaign API.", no_args_is_help=True)
audit_app = typer.Typer(help="Read and verify the API's hash-chained audit trail.", no_args_is_help=True)
PREVIEW = 300


class CommandError(Exception):
    """A failure shown as one line, with an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


@contextmanager
def _one_line_errors() -> Iterator[None]:
    from sqlalchemy.exc import SQLAlchemyError

    from agent.llm import LLMError, LLMServerError

    try:
        yield
    except CommandError as exc:
        console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.code) from None
    except (LLMError, LLMServerError, SQLAlchemyError, OSError, httpx.HTTPError) as exc:
        console.print(f"[red]error:[/red] {type(exc).__name__}: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        console.print("interrupted")
        raise typer.Exit(130) from None


def _store(settings: Settings) -> Store:
    return Store(settings.database_url)


# ---- campaign serve ----------------------------------------------------------------------------------------
def serve_command(
    host: Annotated[str | None, typer.Option(help="Bind address (default CAMPAIGN_API_HOST, 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default CAMPAIGN_API_PORT, 8000).")] = None,
    workers: Annotated[int | None, typer.Option(help="Plans computed at the same time (CAMPAIGN_API_WORKERS).")] = None,
    queue_size: Annotated[int | None, typer.Option(help="Plans allowed to wait; more get HTTP 429.")] = None,
) -> None:
    """Serve the campaign API and the marketer web page until Ctrl-C.

    Starts the embedded LLM server first unless CAMPAIGN_LLM_BASE_URL points at one (or one already answers).
    Jobs, plans, decisions, chats and keys live in CAMPAIGN_DB_URL (default: SQLite in CAMPAIGN_HOME).
    Open http://HOST:PORT/ for the page, /docs for the OpenAPI reference. Create a key first:
    `campaign keys create NAME --role admin`.
    """
    with _one_line_errors():
        import uvicorn

        from agent.assemble import Toolbox
        from agent.llm import OpenAIBackend, ensure_llm_server
        from serve.api import create_app

        overrides = {"api_host": host, "api_port": port, "api_workers": workers, "api_queue_size": queue_size}
        settings = get_settings().model_copy(update={k: v for k, v in overrides.items() if v is not None})
        store = _store(settings)
        blocking = store.blocking_lease(holder="", ttl_s=settings.api_lease_s)  # checked again, atomically, at start
        if blocking is not None:
            raise CommandError(f"another `campaign serve` runs the jobs of this database "
                               f"({store.engine.url!r}): {blocking.describe(now())}; stop it first, or give this "
                               "server its own database with CAMPAIGN_DB_URL")
        if not any(k.revoked_at is None for k in store.api_keys()):
            console.print("[yellow]no API key yet:[/yellow] create one with `campaign keys create --name NAME`")
        with console.status(f"loading shop {settings.default_shop!r}, portraits, recommender and effect model …"):
            backend = OpenAIBackend.from_settings(settings)
            tools = Toolbox(settings, backend, console)
            try:
                tools.for_shop(None)  # the default shop's tools load now; other shops' on their first plan
            except Exception as exc:
                if not type(exc).__module__.startswith("chromadb"):
                    raise
                raise CommandError(f"the portrait store in {settings.chroma_dir} cannot be read "
                                   f"({type(exc).__name__}: {exc}); rebuild it with `campaign index`") from None
        with console.status("waiting for the LLM server …"), ensure_llm_server(settings) as url:
            console.print(f"LLM: {settings.llm_model} at {url}", highlight=False)
            app = create_app(settings, tools, backend)
            base = f"http://{settings.api_host}:{settings.api_port}"
            console.print(f"campaign API at {base} (page {base}/, reference {base}/docs); Ctrl-C stops",
                          highlight=False)
            uvicorn.run(app, host=settings.api_host, port=settings.api_port, log_level="info")


# ---- campaign keys --------------------------------------------------------------------------------------
def _when(at: Any) -> str:
    return f"{at:%Y-%m-%d %H:%M}" if at else ""


@keys_app.command("create")
def keys_create(
    name_arg: Annotated[str | None, typer.Argument(metavar="NAME", help="Who or what uses the key, e.g. 'crm-sync'.",
                                                   show_default=False)] = None,
    name: Annotated[str | None, typer.Option(help="The name, as an option (same as NAME).")] = None,
    role: Annotated[str, typer.Option(help="read, plan, approve or admin; each includes those before it.")] = "admin",
    expires_in: Annotated[str | None, typer.Option(help="Stop working after a duration (30d, 12h, 90m, 2w) or at an "
                                                        "ISO date/time (UTC); default never.")] = None,
) -> None:
    """Create an API key and print it once on stdout (only its hash is stored: copy it now)."""
    from serve.auth import create_key, parse_expiry

    with _one_line_errors():
        if name_arg and name and name_arg != name:
            raise CommandError("give the name once: as NAME or as --name", 2)
        if not (name_arg or name):
            raise CommandError("name the key: `campaign keys create NAME --role ROLE`", 2)
        try:
            expires = parse_expiry(expires_in) if expires_in else None
            record, key = create_key(_store(get_settings()), name_arg or name or "", role, expires)
        except ValueError as exc:
            raise CommandError(str(exc), 2) from None
        sys.stdout.write(key + "\n")
        until = f", expires {record.expires_at:%Y-%m-%d %H:%M} UTC" if record.expires_at else ""
        console.print(f"created key {record.id} named {record.name!r} with role {record.role}{until}; it is shown "
                      "only this once", highlight=False)


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (id, name, first characters, role, created, expires, last use, revoked); never the keys."""
    with _one_line_errors():
        table = Table("id", "name", "starts with", "role", "created", "expires", "last used", "revoked")
        at = now()
        for k in _store(get_settings()).api_keys():
            expires = _when(k.expires_at) + (" (expired)" if k.expires_at and k.expires_at <= at else "")
            table.add_row(k.id, k.name, k.prefix + "…", k.role, _when(k.created_at), expires, _when(k.last_used_at),
                          _when(k.revoked_at))
        Console(width=160).print(table)


@keys_app.command("revoke")
def keys_revoke(
    key: Annotated[str, typer.Argument(help="Key id, or a name (revokes every key of that name).")],
) -> None:
    """Revoke API keys: requests with them get 401 from now on."""
    with _one_line_errors():
        revoked = _store(get_settings()).revoke_key(key)
        if not revoked:
            raise CommandError(f"no active key with id or name {key!r} (see `campaign keys list`)")
        for k in revoked:
            console.print(f"revoked {k.id} ({k.name})", highlight=False)


# ---- campaign audit -------------------------------------------------------------------------------------
@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the audit trail and check every event's hash and link: OK, or the first broken event (exit 1)."""
    with _one_line_errors():
        verdict = _store(get_settings()).verify_audit()
        if not verdict.ok:
            raise CommandError(f"audit trail broken at event {verdict.broken_id}: {verdict.reason} "
                               f"({verdict.events} events before it verified)")
        sys.stdout.write(f"OK: {verdict.events} events, head {verdict.head}\n")


@audit_app.command("list")
def audit_list(
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="Show the newest this many events.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table.")] = False,
) -> None:
    """Show the newest audit events, oldest first (id, time, kind, actor, subject, details)."""
    with _one_line_errors():
        found = _store(get_settings()).audit_events(limit)
        if as_json:
            for e in found:
                sys.stdout.write(json.dumps({"id": e.id, "at": e.at.isoformat(), "kind": e.kind, "actor": e.actor,
                                             "subject": e.subject, "data": e.data, "hash": e.hash},
                                            ensure_ascii=False) + "\n")
            return
        table = Table("id", "at (UTC)", "kind", "actor", "subject", "details")
        for e in found:
            table.add_row(str(e.id), f"{e.at:%Y-%m-%d %H:%M:%S}", e.kind, e.actor, e.subject,
                          json.dumps(e.data, ensure_ascii=False))
        Console(width=200).print(table)


# ---- campaign chat --------------------------------------------------------------------------------------
def iter_sse(lines: Iterable[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Parse server-sent event lines into (event, JSON data) pairs."""
    event = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))


def chat_turn(client: httpx.Client, text: str, session_id: str | None, out: Console) -> str | None:
    """Send one message to ``/v1/chat`` and show the streamed reply; return the session id.

    Raises:
        CommandError: when the API refuses the message (bad key, busy or unknown session).
    """
    with client.stream("POST", "/v1/chat", json={"message": text, "session_id": session_id}) as response:
        if response.status_code == 401:
            raise CommandError("the API key was not accepted; create one with `campaign keys create --name NAME`")
        if response.status_code != 200:
            response.read()
            try:
                detail = response.json().get("detail")
            except ValueError:
                detail = response.text[:200]
            raise CommandError(f"the API answered {response.status_code}: {detail}")
        at_line_start = True
        for event, data in iter_sse(response.iter_lines()):
            if event == "session":
                session_id = data["session_id"]
            elif event == "token":
                out.print(data["text"], end="", highlight=False, markup=False)
                at_line_start = False
            elif event in ("tool_call", "tool_result", "error") and not at_line_start:
                out.print()
                at_line_start = True
            if event == "route" and data.get("ignored"):
                out.print(f"(ignored as instructions inside the question: {' '.join(data['ignored'])})",
                          style="dim", highlight=False, markup=False)
            if event == "tool_call":
                out.print(f"[cyan]→ {data['name']}[/cyan]", json.dumps(data["arguments"], ensure_ascii=False),
                          highlight=False)
            elif event == "tool_result":
                style = "red" if data.get("status") == "error" else "dim"
                preview = data["content"][:PREVIEW] + ("…" if len(data["content"]) > PREVIEW else "")
                out.print(f"[{style}]← {data['name']}: {preview}[/{style}]", highlight=False, markup=True)
            elif event == "error":
                out.print(f"[red]error:[/red] {data['message']}", highlight=False)
            elif event == "done":
                if not at_line_start:
                    out.print()
                    at_line_start = True
                _show_done(client, data, out)
        if not at_line_start:
            out.print()
    return session_id


def _show_done(client: httpx.Client, data: dict[str, Any], out: Console) -> None:
    """Say how the answer was checked (or that the template built it) and link a plan the turn created."""
    source = data.get("source")
    if source == "llm":
        out.print("[dim](checked: every number and name is in the tool results)[/dim]", highlight=False)
    elif source == "template":
        why = "; ".join(data.get("problems") or [])
        out.print(f"(answer built from the tool results by the template{': ' + why if why else ''})", style="dim",
                  highlight=False, markup=False)
    if data.get("plan_id"):
        base = str(client.base_url).rstrip("/")
        out.print(f"plan {data['plan_id']}: {base}/v1/plans/{data['plan_id']} (web page: {base}/)", highlight=False)


def chat_loop(client: httpx.Client, messages: Iterable[str], out: Console, session_id: str | None = None
              ) -> str | None:
    """Run a conversation: one turn per message, in one session; return the session id."""
    for text in messages:
        if text.strip():
            session_id = chat_turn(client, text.strip(), session_id, out)
    return session_id


def _prompt_lines(out: Console) -> Iterator[str]:
    while True:
        try:
            text = out.input("[bold]you>[/bold] ")
        except EOFError:
            return
        if text.strip() in ("/quit", "/exit"):
            return
        yield text


def chat_command(
    message: Annotated[str | None, typer.Argument(help="Send one message and exit (default: interactive).")] = None,
    url: Annotated[str | None, typer.Option(help="Campaign API URL (default CAMPAIGN_API_URL or host:port).")] = None,
    key: Annotated[str | None, typer.Option(help="API key (default CAMPAIGN_API_KEY).", show_default=False)] = None,
    session: Annotated[str | None, typer.Option(help="Continue this chat session id.")] = None,
) -> None:
    """Chat with the campaign assistant of a running `campaign serve`: answers stream in, tool calls are shown.

    Try: "Which films should we send lapsed sci-fi fans?" or "Plan an email win-back for lapsed sci-fi fans
    with 5000 sends". Type /quit or press Ctrl-D to leave.
    """
    settings = get_settings()
    with _one_line_errors():
        secret = key or (settings.api_key.get_secret_value() if settings.api_key else None)
        if not secret:
            raise CommandError("no API key: pass --key or set CAMPAIGN_API_KEY (create one with "
                               "`campaign keys create --name NAME`)", 2)
        base = (url or settings.effective_api_url).rstrip("/")
        timeout = httpx.Timeout(settings.llm_timeout_s + 30, connect=5.0)
        out = Console(highlight=False)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=timeout) as client:
            try:
                session = chat_loop(client, [message] if message else _prompt_lines(out), out, session)
                if session:
                    console.print(f"[dim]continue this chat with --session {session}[/dim]", highlight=False)
            except httpx.ConnectError:
                raise CommandError(f"no campaign API answers at {base}; start it with `campaign serve`") from None
