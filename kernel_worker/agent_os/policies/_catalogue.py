"""Well-known framework tools by their real names and argument names.

Each entry says what a tool does (its action kinds) and what each of its
arguments is (a field meaning). Names are the ones the frameworks send, in
the normalised spelling of :func:`tool_key` (CrewAI's own sanitiser does the
same: camelCase split, lower case, anything else ``_``), so ``"File Writer
Tool"``, ``FileWriterTool`` and ``file_writer_tool`` are one key. Class names
(``ShellTool``) are keys too: adapters pass them as ``hints["class"]``.

Sources, read from the packages themselves (names and argument schemas):

* LangChain: ``langchain_community.tools`` 0.4 (file_management, shell,
  sql_database, spark_sql, requests, ddg_search, tavily_search, wikipedia,
  arxiv, brave_search, google_serper, bing_search, searx_search, playwright,
  gmail, slack, riza, bearly, e2b_data_analysis) and
  ``langchain_experimental.tools.python`` 0.4 (``Python_REPL``,
  ``python_repl_ast``);
* CrewAI: ``crewai_tools`` 1.15 (file read/write/directory, scraping,
  search, NL2SQL, Databricks, Snowflake, E2B and Daytona sandboxes) and the
  ``CodeInterpreterTool`` of the 0.x releases (``code``, ``libraries_used``);
* MCP reference servers: filesystem, git, fetch, postgres, sqlite, puppeteer,
  brave-search, GitHub; common command servers (``run_command``,
  ``execute_command``, ``shell_execute``) and Microsoft's Playwright server;
* OpenAI Agents SDK hosted tools (``local_shell``, ``shell``,
  ``apply_patch``, ``code_interpreter``, ``web_search``, ``file_search``)
  and Anthropic's client tools (``bash``, ``str_replace_based_edit_tool``),
  with the Claude Code spellings (``Bash``, ``Read``, ``Write``, ``Edit``...).

Only the fields whose meaning the generic rules could get wrong need listing;
listing them all keeps a catalogue hit free of any look at the values.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = [
    "CATALOGUE",
    "KINDS",
    "MEANINGS",
    "ToolSpec",
    "tool_key",
]

#: Action kinds a classification may name (the structural rules know the first eight).
KINDS = (
    "file_read",
    "file_write",
    "file_modify",
    "file_delete",
    "shell_exec",
    "code_exec",
    "sql",
    "http_request",
    "web_search",
    "message_send",
)
#: What an argument is: checks run only on the meanings they fit.
MEANINGS = ("command", "sql", "code", "path", "url", "prose", "data")

C, S, K, P, U, T, D = MEANINGS  # command, sql, code, path, url, prose (text), data


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One catalogue entry.

    ``fields`` maps an argument (``"a.b"`` for a nested one, list levels not
    counted) to its meaning; ``primary`` is the meaning of the tool's single
    input when it arrives unnamed (a bare string, ``__arg1``, ``tool_input``).
    ``op`` names an argument whose value selects the kinds (``command`` of an
    editor tool: ``view`` reads, ``create`` writes); an unknown value takes
    the ``kinds`` of the entry, which are then the most dangerous ones.
    ``rest`` is the meaning of an argument whose name says nothing (``""``:
    read by its value's shape); a search tool executes none of its arguments,
    so whatever else it is given is prose.
    """

    kinds: tuple[str, ...]
    fields: Mapping[str, str]
    primary: str = D
    op: str = ""
    op_kinds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    rest: str = ""


_CAMEL_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")
_OTHER = re.compile(r"[^a-z0-9]+")


def tool_key(name: str) -> str:
    """The catalogue spelling of a tool or class name (``FileWriterTool``: ``file_writer_tool``)."""
    if not name.isascii():
        name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    name = _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", name)).lower()
    name = name.replace("'", "").replace('"', "").replace("`", "")
    return _OTHER.sub("_", name).strip("_")


def _spec(
    kinds: str,
    primary: str = D,
    op: str = "",
    op_kinds: Mapping[str, str] | None = None,
    rest: str = "",
    **fields: str,
) -> ToolSpec:
    return ToolSpec(
        tuple(kinds.split()),
        MappingProxyType({k.replace("__", "."): v for k, v in fields.items()}),
        primary,
        op,
        MappingProxyType({k: tuple(v.split()) for k, v in (op_kinds or {}).items()}),
        rest,
    )


# fmt: off
_SEARCH = _spec("web_search", T, rest=T, query=T, q=T, search_query=T, count=D, offset=D,
    max_results=D, num_results=D)
_READ = _spec("file_read", P, file_path=P, path=P, head=D, tail=D, offset=D, limit=D, length=D)
_WRITE = _spec("file_write", P, file_path=P, path=P, text=D, content=D, append=D, mode=D,
    encoding=D)
_LIST = _spec("file_read", P, dir_path=P, path=P, ignore=D, sortBy=D, excludePatterns=D)
_MOVE = _spec("file_write file_delete", P, source_path=P, destination_path=P, source=P,
    destination=P)
_SHELL = _spec("shell_exec", C, command=C, commands=C, cmd=C, args=C, arguments=C, stdin=C, cwd=P,
    directory=P, working_directory=P, workdir=P, timeout=D, timeout_ms=D, env=D, envs=D, shell=D,
    description=T, explanation=T, restart=D, is_background=D, run_in_background=D)
_PY = _spec("code_exec", K, query=K, code=K, python_code=K, command=K)
_SQL = _spec("sql", S, query=S, sql=S, sql_query=S, database=D, catalog=D, db_schema=D)
_GET = _spec("http_request", U, url=U, website_url=U, max_length=D, start_index=D, raw=D)
_SEND = _spec("http_request", D, url=U, data=D, text=D, text__url=U, text__data=D, headers=D,
    params=D)
_GIT_READ = _spec("file_read", P, repo_path=P, target=D, revision=D, max_count=D, branch_type=D,
    contains=D, not_contains=D, context_lines=D, start_timestamp=D, end_timestamp=D)
_GIT_WRITE = _spec("file_modify", P, repo_path=P, message=T, files=P, branch_name=D, base_branch=D,
    remote=D, branch=D, force=D)
_EDIT = _spec("file_modify", P, path=P, file_path=P, notebook_path=P, edits=D, old_string=D,
    new_string=D, old_str=D, new_str=D, new_source=D, replace_all=D, dryRun=D,
    expected_replacements=D)
_EDITOR = _spec("file_write file_modify", P, op="command",
    op_kinds={
        "view": "file_read",
        "create": "file_write",
        "str_replace": "file_modify",
        "insert": "file_modify",
        "undo_edit": "file_modify",
    },
    command=D, path=P, file_text=D, old_str=D, new_str=D, insert_line=D, insert_text=D,
    view_range=D)
_SANDBOX_FILES = _spec("file_write file_delete file_modify", P, op="action",
    op_kinds={
        "read": "file_read",
        "list": "file_read",
        "info": "file_read",
        "exists": "file_read",
        "find": "file_read",
        "search": "file_read",
        "write": "file_write",
        "append": "file_write",
        "mkdir": "file_write",
        "delete": "file_delete",
        "move": "file_write file_delete",
        "chmod": "file_modify",
        "replace": "file_modify",
    },
    action=D, path=P, paths=P, destination=P, content=D, pattern=D, replacement=D, mode=D, owner=D,
    group=D)
_PATCH = _spec("file_write file_modify file_delete", D, op="operation.type",
    op_kinds={
        "create_file": "file_write",
        "update_file": "file_modify",
        "delete_file": "file_delete",
    },
    operation__type=D, operation__path=P, operation__diff=D)
_LOCAL_SHELL = _spec("shell_exec", C, action__command=C, action__working_directory=P,
    action__env=D, action__type=D, action__user=D, action__timeout_ms=D, command=C, commands=C,
    working_directory=P, timeout_ms=D, max_output_length=D)
# fmt: on

_ENTRIES: tuple[tuple[str, ToolSpec], ...] = (
    # -- LangChain community: file management toolkit --------------------------------
    ("read_file | ReadFileTool | read_text_file | read_media_file | Read", _READ),
    ("write_file | WriteFileTool | Write", _WRITE),
    (
        "copy_file | CopyFileTool",
        _spec("file_read file_write", P, source_path=P, destination_path=P),
    ),
    ("move_file | MoveFileTool", _MOVE),
    ("file_delete | DeleteFileTool", _spec("file_delete", P, file_path=P, path=P)),
    (
        "file_search | FileSearchTool",
        _spec("file_read", P, dir_path=P, pattern=D, query=T, max_num_results=D),
    ),
    ("list_directory | ListDirectoryTool | list_directory_with_sizes | LS", _LIST),
    # -- LangChain: shell, Python REPL, SQL database, requests -----------------------
    ("terminal | ShellTool", _SHELL),
    ("Python_REPL | PythonREPLTool | python_repl_ast | PythonAstREPLTool", _PY),
    (
        "sql_db_query | QuerySQLDatabaseTool | QuerySQLDataBaseTool | sql_db_query_checker | "
        "QuerySQLCheckerTool | query_sql_db | QuerySparkSQLTool | query_checker_sql_db",
        _SQL,
    ),
    (
        "sql_db_schema | InfoSQLDatabaseTool | sql_db_list_tables | ListSQLDatabaseTool | "
        "schema_sql_db | list_tables_sql_db",
        _spec("sql", D, table_names=D, tool_input=D),
    ),
    ("requests_get | RequestsGetTool", _GET),
    (
        "requests_post | RequestsPostTool | requests_patch | RequestsPatchTool | requests_put "
        "| RequestsPutTool",
        _SEND,
    ),
    ("requests_delete | RequestsDeleteTool", _GET),
    ("navigate_browser | NavigateTool", _GET),
    # -- LangChain: search and knowledge tools ----------------------------------------
    (
        "duckduckgo_search | DuckDuckGoSearchRun | duckduckgo_results_json | "
        "DuckDuckGoSearchResults | tavily_search_results_json | TavilySearchResults | "
        "tavily_answer | TavilyAnswer | tavily_search | TavilySearch | wikipedia | "
        "WikipediaQueryRun | arxiv | ArxivQueryRun | brave_search | BraveSearch | "
        "google_serper | GoogleSerperRun | google_serper_results_json | GoogleSerperResults | "
        "google_search | GoogleSearchRun | bing_search | BingSearchRun | "
        "bing_search_results_json | BingSearchResults | searx_search | SearxSearchRun | "
        "searx_search_results | SearxSearchResults | pub_med | PubmedQueryRun | web_search | "
        "web_search_preview | WebSearchTool | WebSearch | brave_web_search | "
        "brave_local_search | search_repositories | search_code",
        _SEARCH,
    ),
    ("tavily_extract | TavilyExtract | TavilyExtractorTool", _spec("http_request", U, urls=U)),
    # -- LangChain: messaging and hosted interpreters ------------------------------
    (
        "send_gmail_message | GmailSendMessage | send_message | SlackSendMessage",
        _spec("message_send", T, message=T, to=D, cc=D, bcc=D, subject=T, channel=D),
    ),
    (
        "riza_exec_python | ExecPython | riza_exec_javascript | ExecJavaScript | "
        "bearly_interpreter | BearlyInterpreterTool | e2b_data_analysis | E2BDataAnalysisTool",
        _spec("code_exec", K, code=K, python_code=K),
    ),
    # -- CrewAI tools -----------------------------------------------------------------
    (
        "FileWriterTool | File Writer Tool",
        _spec("file_write", P, filename=P, directory=P, content=D, overwrite=D),
    ),
    (
        "FileReadTool | Read a file's content",
        _spec("file_read", P, file_path=P, start_line=D, line_count=D),
    ),
    ("DirectoryReadTool | List files in directory", _spec("file_read", P, directory=P)),
    (
        "DirectorySearchTool | Search a directory's content",
        _spec("file_read", T, directory=P, search_query=T),
    ),
    (
        "CodeInterpreterTool | Code Interpreter | code_interpreter | code_execution",
        _spec("code_exec", K, code=K, libraries_used=D, container=D),
    ),
    (
        "ScrapeWebsiteTool | Read website content | ScrapeElementFromWebsiteTool | "
        "SeleniumScrapingTool | Read a website content | JinaScrapeWebsiteTool | SpiderTool",
        _spec("http_request", U, website_url=U, css_element=D, mode=D, cookie=D),
    ),
    (
        "FirecrawlScrapeWebsiteTool | Firecrawl web scrape tool | FirecrawlCrawlWebsiteTool | "
        "Firecrawl web crawl tool | URLReadTool | Read content from a URL | "
        "SerperScrapeWebsiteTool | serper_scrape_website | HyperbrowserLoadTool | "
        "BrightDataWebUnlockerTool | OxylabsUniversalScraperTool | WebFetch | web_fetch",
        _spec("http_request", U, url=U, operation=D, params=D, prompt=T, include_markdown=D),
    ),
    (
        "SerperDevTool | Search the internet with Serper | EXASearchTool | ExaSearchTool | "
        "SerpApiGoogleSearchTool | FirecrawlSearchTool | Firecrawl web search tool | "
        "BraveSearchTool | TavilySearchTool | ArxivPaperTool",
        _spec("web_search", T, rest=T, search_query=T, query=T, location=D, include_domains=D),
    ),
    (
        "WebsiteSearchTool | Search in a specific website",
        _spec("web_search http_request", T, website=U, search_query=T),
    ),
    (
        "PDFSearchTool | Search a PDF's content | TXTSearchTool | Search a txt's content | "
        "CSVSearchTool | Search a CSV's content | DOCXSearchTool | Search a DOCX's content | "
        "JSONSearchTool | Search a JSON's content",
        _spec("file_read", T, pdf=P, txt=P, csv=P, docx=P, json_path=P, query=T, search_query=T),
    ),
    ("NL2SQLTool", _SQL),
    (
        "DatabricksQueryTool | Databricks SQL Query | SnowflakeSearchTool | Snowflake "
        "Database Search",
        _spec("sql", S, query=S, catalog=D, db_schema=D, warehouse_id=D, row_limit=D, database=D),
    ),
    (
        "FileCompressorTool | File Compressor Tool",
        _spec("file_read file_write", P, input_path=P, output_path=P, overwrite=D, format=D),
    ),
    ("E2BExecTool | E2B Sandbox Exec | DaytonaExecTool | Daytona Sandbox Exec", _SHELL),
    (
        "E2BPythonTool | E2B Sandbox Python | DaytonaPythonTool | Daytona Sandbox Python",
        _spec("code_exec", K, code=K, language=D, argv=D, envs=D, timeout=D),
    ),
    ("E2BFileTool | E2B Sandbox Files | DaytonaFileTool | Daytona Sandbox Files", _SANDBOX_FILES),
    # -- MCP reference servers ---------------------------------------------------------
    ("read_multiple_files", _spec("file_read", P, paths=P)),
    ("edit_file | Edit | MultiEdit | edit_block | NotebookEdit", _EDIT),
    ("create_directory", _spec("file_write", P, path=P)),
    (
        "directory_tree | search_files | get_file_info | list_allowed_directories | "
        "start_search | Glob | Grep",
        _spec("file_read", P, path=P, pattern=D, excludePatterns=D, glob=D),
    ),
    (
        "git_status | git_diff_unstaged | git_diff_staged | git_diff | git_log | git_show | "
        "git_branch",
        _GIT_READ,
    ),
    (
        "git_commit | git_add | git_reset | git_create_branch | git_checkout | git_push | "
        "git_pull | git_merge | git_rebase | git_stash",
        _GIT_WRITE,
    ),
    ("git_init", _spec("file_write", P, repo_path=P)),
    ("git_clean", _spec("file_delete", P, repo_path=P, force=D)),
    ("git_clone", _spec("http_request file_write", U, url=U, path=P, repo_path=P)),
    ("fetch | puppeteer_navigate | browser_navigate", _GET),
    ("query", _spec("sql", S, sql=S)),
    ("read_query | write_query | create_table", _spec("sql", S, query=S)),
    ("list_tables | describe_table", _spec("sql", D, table_name=D)),
    (
        "puppeteer_evaluate | browser_evaluate | browser_run_code",
        _spec("code_exec", K, script=K, function=K, code=K, element=T, ref=D),
    ),
    (
        "run_command | execute_command | exec_command | shell_execute | shell_exec | "
        "run_shell_command | execute_shell_command | run_terminal_cmd | start_process | bash "
        "| Bash | bash_20250124",
        _SHELL,
    ),
    (
        "create_or_update_file | push_files",
        _spec(
            "file_write",
            P,
            path=P,
            content=D,
            files__path=P,
            files__content=D,
            message=T,
            owner=D,
            repo=D,
            branch=D,
            sha=D,
        ),
    ),
    ("get_file_contents", _spec("file_read", P, path=P, owner=D, repo=D, branch=D)),
    ("delete_file", _spec("file_delete", P, path=P, file_path=P, message=T, owner=D, repo=D)),
    # -- OpenAI Agents SDK hosted tools and Anthropic client tools ---------------------
    ("local_shell | LocalShellTool | shell", _LOCAL_SHELL),
    ("apply_patch | ApplyPatchTool", _PATCH),
    (
        "str_replace_based_edit_tool | str_replace_editor | text_editor_20250124 | "
        "text_editor_20250429 | text_editor_20250728",
        _EDITOR,
    ),
)
# fmt: on


def _build() -> Mapping[str, ToolSpec]:
    table: dict[str, ToolSpec] = {}
    for names, spec in _ENTRIES:
        for name in names.split(" | "):
            key = tool_key(name)
            if key in table and table[key] is not spec:
                raise AssertionError(f"catalogue key {key!r} listed twice")
            table[key] = spec
    return MappingProxyType(table)


#: Normalised tool or class name -> entry.
CATALOGUE: Mapping[str, ToolSpec] = _build()
