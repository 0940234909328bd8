"""Read a folder of atom files; report every problem at once with file, line and field."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from copilot.errors import AtomProblem, AtomValidationError

from ._atom import Atom, type_rule_problems

__all__ = ["FileEntry", "LoadedFolder", "load_atoms", "load_folder", "parse_atom"]

MAX_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class FileEntry:
    """What one atom file held when it was last read: the sha256 of its bytes and the
    atom's id, content hash, status and version (enough to plan an ingest)."""

    sha256: str
    atom_id: str
    content_hash: str
    status: str
    version: int
    # size, mtime, ctime and inode when it was read: unchanged, the bytes are not read
    # again (git's index does the same). ctime moves on every write and cannot be set back.
    stat: str = ""


@dataclass
class LoadedFolder:
    """Atoms parsed from new or changed files; ``kept`` files (relative path ->
    entry) held exactly the bytes of ``previous`` and were not parsed again."""

    parsed: list[Atom] = field(default_factory=list)
    kept: dict[str, FileEntry] = field(default_factory=dict)
    entries: dict[str, FileEntry] = field(default_factory=dict)  # every file, for next time


def load_atoms(folder: Path | str) -> list[Atom]:
    """Parse every ``*.md`` atom under ``folder`` (sub-folders included).

    Raises :class:`AtomValidationError` listing every problem in every file,
    including ids used twice, when anything is wrong.
    """
    return load_folder(folder).parsed


def load_folder(
    folder: Path | str,
    previous: Mapping[str, FileEntry] | None = None,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> LoadedFolder:
    """Like :func:`load_atoms`, but a file whose bytes hash as in ``previous`` (same
    relative path) is not parsed again: same bytes, same valid atom; one whose size,
    mtime, ctime and inode are as recorded is not even read. Problems in
    any file, and ids used twice across parsed and kept files, are all raised.
    ``progress(done, total)`` is called every 500 files."""
    root = Path(folder)
    if not root.is_dir():
        problem = AtomProblem(str(root), 0, "path", "not a folder; pass the knowledge base folder")
        raise AtomValidationError([problem])
    previous = previous or {}
    loaded = LoadedFolder()
    problems: list[AtomProblem] = []
    first_seen: dict[str, str] = {}
    files, links, unreadable = _atom_files(root)
    problems += [_link_problem(link, root) for link in links]
    problems += [
        AtomProblem(_display(Path(e.filename), root), 0, "folder", f"cannot read: {e.strerror}")
        for e in unreadable
    ]
    for done, path in enumerate(files, 1):
        if progress and (done % 500 == 0 or done == len(files)):
            progress(done, len(files))
        shown = _display(path, root)
        key = path.relative_to(root).as_posix()
        entry = previous.get(key)
        line = 1
        try:
            found = path.stat()
            stat = f"{found.st_size}:{found.st_mtime_ns}:{found.st_ctime_ns}:{found.st_ino}"
            quick = entry is not None and entry.stat == stat
            raw = b"" if quick else path.read_bytes()
        except OSError as exc:
            problems.append(AtomProblem(shown, 0, "file", f"cannot read: {exc.strerror or exc}"))
            continue
        if entry is not None and (quick or entry.sha256 == hashlib.sha256(raw).hexdigest()):
            entry = replace(entry, stat=stat)  # same bytes (maybe touched): not parsed again
            loaded.kept[key] = entry
        else:
            try:
                atom, key_lines = _parse(raw, shown)
            except AtomValidationError as exc:
                problems.extend(exc.problems)
                continue
            digest = hashlib.sha256(raw).hexdigest()
            entry = FileEntry(digest, atom.id, atom.content_hash, atom.status, atom.version, stat)
            line = key_lines.get("id", 1)
            loaded.parsed.append(atom)
        if entry.atom_id in first_seen:
            first = first_seen[entry.atom_id]
            message = f"id {entry.atom_id!r} is already used by {first}; ids must be unique"
            problems.append(AtomProblem(shown, line, "id", message))
            continue
        first_seen[entry.atom_id] = shown
        loaded.entries[key] = entry
    if problems:
        raise AtomValidationError(sorted(problems, key=lambda p: (p.path, p.line)))
    return loaded


def _atom_files(root: Path) -> tuple[list[Path], list[Path], list[OSError]]:
    """The atom files under ``root`` (sorted), every symbolic link met on the way,
    and the folders that could not be read.

    Links are never followed, neither to files nor to folders: one could lead out
    of the knowledge base (``/etc``, another team's drafts) or loop forever.
    """
    files: list[Path] = []
    links: list[Path] = []
    unreadable: list[OSError] = []
    for folder, dirs, names in os.walk(root, followlinks=False, onerror=unreadable.append):
        here = Path(folder)
        for name in sorted(dirs):
            if (here / name).is_symlink():
                links.append(here / name)
        for name in names:
            path = here / name
            if path.is_symlink():
                if name.lower().endswith(".md"):
                    links.append(path)
            elif name.endswith(".md") and name.lower() != "readme.md" and path.is_file():
                files.append(path)
    return sorted(files), sorted(links), unreadable


def _link_problem(link: Path, root: Path) -> AtomProblem:
    try:
        target = link.resolve()
        inside = target.is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a loop, or a target that cannot be resolved
        inside = False
    where = "inside the knowledge base" if inside else "outside the knowledge base"
    message = f"is a symbolic link ({where}); links are not followed: copy the file into the folder instead"
    return AtomProblem(_display(link, root), 0, "file", message)


def _display(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def parse_atom(raw: bytes, path: str) -> Atom:
    """Parse one atom file's bytes; ``path`` is only used in error messages."""
    return _parse(raw, path)[0]


def _parse(raw: bytes, path: str) -> tuple[Atom, dict[str, int]]:
    if len(raw) > MAX_FILE_BYTES:
        size = f"{len(raw)} bytes, limit {MAX_FILE_BYTES}"
        raise _one(path, 1, "file", f"too large ({size}); split it into smaller atoms")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise _one(path, line, "file", f"not valid UTF-8 at byte {exc.start}; save as UTF-8") from None
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise _one(path, 1, "front matter", "file must start with a '---' line")
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise _one(path, 1, "front matter", "no closing '---' line after the front matter")
    header = "\n".join(lines[1:end])
    body = "\n".join(lines[end + 1 :])
    data, key_lines = _parse_header(header, path)
    data["body"] = body
    data["path"] = path
    try:
        return Atom.model_validate(data), key_lines
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            problems += _problems(err, path, key_lines, body_line=end + 2)
        seen = {(p.field, p.message) for p in problems}
        for field, message in type_rule_problems(data):  # also when other fields failed
            if (field, message) not in seen:
                problems.append(AtomProblem(path, key_lines.get(field, 1), field, message))
        raise AtomValidationError(sorted(problems, key=lambda p: p.line)) from None


def _compose(header: str, loader_class: Any) -> tuple[Any, Any]:
    """The header's node tree (it gives each key's line) and its data, parsed once."""
    loader = loader_class(header)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def _parse_header(header: str, path: str) -> tuple[dict[str, Any], dict[str, int]]:
    try:
        try:
            node, data = _compose(header, _FastLoader)
        except yaml.YAMLError:  # rare: Python's parser names the line of the mistake better
            node, data = _compose(header, _Loader)
    except RecursionError:
        raise _one(
            path, 2, "front matter", "YAML nested too deeply; front matter is a flat mapping"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc)
        raise _one(path, line, "front matter", f"invalid YAML: {reason}") from None
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        raise _one(path, 2, "front matter", "must be a YAML mapping of field: value")
    # Line of each key: +2 = the opening '---' line plus 1-based numbering.
    key_lines: dict[str, int] = {}
    for key, _ in node.value:
        line = key.start_mark.line + 2
        if str(key.value) in key_lines:
            first = key_lines[str(key.value)]
            raise _one(path, line, str(key.value), f"given twice (first on line {first}); keep one")
        key_lines[str(key.value)] = line
    return {str(k): v for k, v in data.items()}, key_lines


class _Loader(yaml.SafeLoader):
    """A safe loader that leaves dates as text, so a bad date is a field error with a line."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _CLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same on libyaml's parser (~10x faster over 100,000 files) when PyYAML has it."""


_CLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
_FastLoader: Any = _CLoader


def _problems(err: Any, path: str, key_lines: dict[str, int], body_line: int) -> list[AtomProblem]:
    """One pydantic error as problems (a model rule may carry several, one per line)."""
    message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    if not err.get("loc") and "\n" in message:
        return [_problem(err | {"msg": part}, path, key_lines, body_line) for part in message.split("\n")]
    return [_problem(err, path, key_lines, body_line)]


def _problem(err: Any, path: str, key_lines: dict[str, int], body_line: int) -> AtomProblem:
    loc = [str(part) for part in err.get("loc", ())]
    message = str(err.get("msg", "invalid"))
    if message.startswith("Value error, "):
        message = message.removeprefix("Value error, ")
    field = ".".join(loc) if loc else ""
    if not loc and ":" in message:
        # Model-level rules name their field as "field: message".
        field, message = (part.strip() for part in message.split(":", 1))
    top = field.split(".")[0]
    if err.get("type") == "extra_forbidden":
        message = f"unknown field {top!r}; check the spelling against the atom format"
    elif err.get("type") == "missing":
        message = "required field is missing"
    line = body_line if top == "body" else key_lines.get(top, 1)
    return AtomProblem(path, line, field or "front matter", message)


def _one(path: str, line: int, field: str, message: str) -> AtomValidationError:
    return AtomValidationError([AtomProblem(path, line, field, message)])
