"""Load suite files: YAML with line numbers, validated against the suite models.

Every problem in every file is collected and reported at once, each with the
file, the line and the field (``cases[3].assert[1].roles``), so an evaluator
fixes a suite in one pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from copilot import Conversation
from copilot.errors import SuiteError, SuiteProblem

from ._suite import Case, Suite

__all__ = ["DEFAULT_KB", "LoadedCase", "load_suites"]

DEFAULT_KB = Path(__file__).resolve().parent.parent / "examples" / "kb"
MAX_SUITE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class LoadedCase:
    """A case ready to run: its conversation validated, its knowledge base resolved."""

    suite: str
    path: Path
    line: int
    case: Case
    conversation: Conversation
    kb: Path
    today: date
    tags: tuple[str, ...]

    @property
    def key(self) -> str:
        return f"{self.suite}/{self.case.id}"


def suite_files(paths: Iterable[Path]) -> list[Path]:
    """The YAML files named, or found (sorted, recursively) in the folders named."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        elif path.is_file():
            files.append(path)
        else:
            raise SuiteError([SuiteProblem(str(path), 0, "path", "no such file or folder")])
    if not files:
        names = ", ".join(str(p) for p in paths)
        raise SuiteError([SuiteProblem(names, 0, "path", "no .yaml suite files found")])
    return files


def load_suites(
    paths: Sequence[Path], *, tags: Sequence[str] = (), engine: str | None = None
) -> list[LoadedCase]:
    """Every case of every suite under ``paths``; with ``tags``, only cases carrying one;
    with ``engine``, only cases meant for it (a case's ``engines``, empty = all)."""
    problems: list[SuiteProblem] = []
    cases: list[LoadedCase] = []
    names: dict[str, Path] = {}
    for path in suite_files(paths):
        try:
            loaded = _load_file(path)
        except SuiteError as exc:
            problems += exc.problems
            continue
        if loaded:
            name = loaded[0].suite
            if name in names:
                problems.append(SuiteProblem(str(path), 1, "name", f"suite {name!r} also in {names[name]}"))
            names[name] = path
        cases += loaded
    if problems:
        raise SuiteError(problems)
    if tags:
        wanted = set(tags)
        cases = [c for c in cases if wanted & set(c.tags)]
    if engine:
        cases = [c for c in cases if not c.case.engines or engine in c.case.engines]
    return cases


def _load_file(path: Path) -> list[LoadedCase]:
    shown = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SuiteError([SuiteProblem(shown, 0, "file", f"cannot read: {exc.strerror}")]) from None
    if len(raw) > MAX_SUITE_BYTES:
        raise SuiteError([SuiteProblem(shown, 0, "file", f"over the {MAX_SUITE_BYTES} byte limit")])
    try:
        text = raw.decode("utf-8-sig")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except UnicodeDecodeError as exc:
        problem = SuiteProblem(shown, 0, "file", f"not UTF-8 at byte {exc.start}; save it as UTF-8")
        raise SuiteError([problem]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc)
        raise SuiteError([SuiteProblem(shown, line, "yaml", f"invalid YAML: {reason}")]) from None
    if node is None or not isinstance(data, dict):
        raise SuiteError([SuiteProblem(shown, 1, "document", "must be a mapping with name and cases")])
    problems = _duplicate_keys(node, shown)
    try:
        suite = Suite.model_validate(data)
    except ValidationError as exc:
        problems += [_problem(err, node, shown) for err in exc.errors()]
        raise SuiteError(problems) from None
    if problems:
        raise SuiteError(problems)
    kb = (path.parent / suite.kb).resolve() if suite.kb else DEFAULT_KB
    if not kb.is_dir():
        raise SuiteError([SuiteProblem(shown, _line(node, ["kb"]), "kb", f"{kb} is not a folder")])
    out: list[LoadedCase] = []
    for index, case in enumerate(suite.cases):
        loc: list[Any] = ["cases", index]
        try:
            conversation = _conversation(path, suite.name, case)
        except _CaseProblem as exc:
            problems.append(SuiteProblem(shown, _line(node, loc + exc.loc), exc.field(loc), exc.message))
            continue
        tags = tuple(dict.fromkeys([*suite.tags, *case.tags, suite.name]))
        line = _line(node, loc)
        out.append(LoadedCase(suite.name, path, line, case, conversation, kb, suite.today, tags))
    if problems:
        raise SuiteError(problems)
    return out


class _CaseProblem(Exception):
    def __init__(self, loc: list[Any], message: str) -> None:
        self.loc = loc
        self.message = message

    def field(self, prefix: list[Any]) -> str:
        return _dotted([*prefix, *self.loc])


def _conversation(path: Path, suite: str, case: Case) -> Conversation:
    if isinstance(case.conversation, str):
        file = path.parent / case.conversation
        try:
            data = json.loads(file.read_text(encoding="utf-8-sig"))
        except OSError as exc:
            raise _CaseProblem(["conversation"], f"cannot read {file}: {exc.strerror}") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise _CaseProblem(["conversation"], f"{file} is not valid UTF-8 JSON: {exc}") from None
        if not isinstance(data, dict):
            raise _CaseProblem(["conversation"], f"{file} must hold one JSON object")
        inline = False
    else:
        data = {"id": f"eval:{suite}:{case.id}", "channel": "eval", **case.conversation}
        inline = True
    if case.deal is not None:
        data = {**data, "deal": case.deal.model_dump()}
    try:
        return Conversation.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ["conversation", *err["loc"]] if inline else ["conversation"]
        where = "" if inline else f"{_dotted(list(err['loc'])) or 'document'}: "
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise _CaseProblem(loc, f"{where}{_message(err)}{more}") from None


def _problem(err: Any, node: yaml.Node, path: str) -> SuiteProblem:
    loc = _yaml_loc(list(err.get("loc", ())))
    return SuiteProblem(path, _line(node, loc), _dotted(loc) or "document", _message(err))


def _message(err: Any) -> str:
    kind = err.get("type")
    if kind == "extra_forbidden":
        return "unknown field; check the spelling against evals/suite.schema.json"
    if kind == "missing":
        return "required field is missing"
    if kind == "union_tag_invalid":
        return f"unknown assertion type {err.get('input', {}).get('type')!r}; see evals/suite.schema.json"
    return str(err.get("msg", "invalid")).removeprefix("Value error, ")


def _yaml_loc(loc: list[Any]) -> list[Any]:
    """A pydantic error location without its union-member segments
    (``cases.0.assert.1.cites.atoms`` → ``cases.0.assert.1.atoms``)."""
    out: list[Any] = []
    for i, part in enumerate(loc):
        after_assert = i >= 2 and loc[i - 2] == "assert" and isinstance(loc[i - 1], int)
        union_member = isinstance(part, str) and (part in ("str", "dict[str,any]") or after_assert)
        if union_member and not (after_assert and part == "type"):
            continue
        out.append(part)
    return out


def _dotted(loc: list[Any]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _line(node: yaml.Node, loc: list[Any]) -> int:
    """1-based line of the deepest YAML node on ``loc`` that exists."""
    line = node.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    child, line = value, key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def _duplicate_keys(node: yaml.Node, path: str) -> list[SuiteProblem]:
    problems: list[SuiteProblem] = []
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            name, line = str(key.value), key.start_mark.line + 1
            if name in seen:
                problems.append(SuiteProblem(path, line, name, f"given twice (first on line {seen[name]})"))
            seen.setdefault(name, line)
            problems += _duplicate_keys(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            problems += _duplicate_keys(item, path)
    return problems
