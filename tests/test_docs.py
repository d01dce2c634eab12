"""The documentation stays true to the code: the generated pages are current (tools/gen_docs.py
--check), every relative link in README.md and docs/ reaches a file (and a heading of it, for a
#fragment), the README stays a short front door without commit hashes or issue numbers, and every
command it shows parses with pycolorize's own parser, naming files that exist."""
import glob
import os
import re
import shlex
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def markdown_files():
    return [README] + sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))


def without_code(text):
    """The text with fenced code blocks and inline code spans blanked (a link there is not one)."""
    text = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def code_parts(text):
    """The fenced code blocks and inline code spans of a Markdown text."""
    blocks = re.findall(r"^(?:```|~~~)[^\n]*\n(.*?)^(?:```|~~~)", text, flags=re.M | re.S)
    rest = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.M | re.S)
    return blocks + re.findall(r"`([^`\n]+)`", rest)


def anchors(text):
    """The #fragments a Markdown page's headings get (GitHub's rule: lower case, punctuation other
    than - and _ dropped, spaces made -; a repeated heading gets -1, -2, ...)."""
    seen, out = {}, set()
    for heading in re.findall(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", without_code(text), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def links(text):
    """Targets of Markdown links and images, inline ([t](x), ![t](x "title")) and reference-style
    ([t]: x)."""
    text = without_code(text)
    inline = re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    reference = re.findall(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", text, flags=re.M)
    return inline + reference


def test_generated_pages_are_current():
    import pycolorize

    # the generator documents the pycolorize this test imports (installed, in place or sanitized)
    here = os.path.dirname(os.path.dirname(os.path.abspath(pycolorize.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH")) if p))
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_docs.py"), "--check"],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 0, f"generated documentation is stale (run python tools/gen_docs.py):\n{r.stdout}{r.stderr}"


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: os.path.relpath(p, ROOT))
def test_relative_links_resolve(path):
    broken = []
    for target in links(read(path)):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, flags=re.I) or target.startswith("//"):
            continue  # http:, https:, mailto:, ...
        file_part, _, fragment = target.split("?", 1)[0].partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
        if not os.path.exists(resolved):
            broken.append(target)
        elif fragment and resolved.endswith(".md") and fragment not in anchors(read(resolved)):
            broken.append(target + " (no such heading)")
    assert not broken, f"{os.path.relpath(path, ROOT)}: links to nothing: {', '.join(broken)}"


def test_every_markdown_file_is_found():
    # the link test above must not pass by finding no pages
    names = {os.path.relpath(p, ROOT) for p in markdown_files()}
    assert "README.md" in names and os.path.join("docs", "README.md") in names


def test_readme_is_a_short_front_door():
    text = read(README)
    lines = text.splitlines()
    assert len(lines) < 250, f"README.md has {len(lines)} lines; keep it under 250 (details go to docs/)"
    # a commit hash: 7 to 40 hex digits with at least one digit and one letter, not part of a longer
    # word (a log file's name such as 2026-11-28_35e5426_cpu-2core_train.txt holds one too)
    commit = r"(?<![0-9A-Za-z])(?=[0-9a-f]*[0-9])(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}(?![0-9A-Za-z])"
    hashes = [m.group(0) for m in re.finditer(commit, text)]
    assert not hashes, f"README.md names commits ({', '.join(hashes)}): history goes to CHANGELOG.md"
    issues = re.findall(r"(?i)\bissues?\s*#?\s*\d+|(?<![\w&/])#\d+\b", text)
    assert not issues, f"README.md refers to issues ({', '.join(issues)}): say what is meant instead"


def test_readme_names_only_real_subcommands():
    from pycolorize.cli import COMMANDS

    named = set()
    for part in code_parts(read(README)):
        named.update(re.findall(r"(?<![\w./-])pycolorize[ \t]+([a-z][a-z0-9-]*)", part))
    unknown = sorted(named - set(COMMANDS))
    assert named, "README.md shows no pycolorize command"
    assert not unknown, f"README.md names subcommands pycolorize does not have: {', '.join(unknown)}"


def readme_commands():
    """The command lines the README shows in its code: (program, arguments), continuation lines
    joined and comments dropped; a line with a placeholder (...) is left out, and so is a bare
    subcommand named in the text (`pycolorize colorize`)."""
    out = []
    for part in code_parts(read(README)):
        for line in part.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line.strip().removeprefix("$ "))
            for command in re.split(r"\s*&&\s*", line):
                words = shlex.split(command) if command else []
                if words and words[0] in ("pycolorize", "pytest") and "..." not in words and (len(words) > 2 or words[0] == "pytest"):
                    out.append((words[0], words[1:]))
    return out


def test_readme_commands_parse_and_name_real_files(tmp_path, monkeypatch):
    # each `pycolorize ...` line is one the command line accepts (subcommand, options, their values);
    # each `pytest PATH` names test files that exist
    from pycolorize import cli

    commands = readme_commands()
    assert sum(p == "pycolorize" for p, _ in commands) >= 5, commands
    bad = []
    for program, args in commands:
        if program == "pytest":
            bad += [a for a in args if not a.startswith("-") and not os.path.exists(os.path.join(ROOT, a.split("::")[0]))]
            continue
        try:
            cli.parser().parse_args(args)
        except SystemExit:
            bad.append(shlex.join([program] + args))
    assert not bad, f"README.md shows commands that do not parse or files that do not exist: {bad}"
