#!/usr/bin/env python3
"""checksrc.py - source lint for anpi's C code (the idea of curl's checksrc).

    checksrc.py [ROOT]              check *.c/*.h under ROOT/{engine,feeds,rules,channels,admin-api}
    checksrc.py --files F...        check just these files

Problems are printed as "file:line: problem"; the exit status is 1 when any
was found.  Banned calls (each has a bounded or checked replacement):

    atoi, atol           -> anpi_parse_int64 (reports junk and overflow)
    strcpy, strcat       -> snprintf / anpi_buf / memcpy with a known length
    sprintf, vsprintf    -> snprintf / vsnprintf / anpi_xasprintf
    gets                 -> fgets
    strtok               -> strtok_r (strtok keeps hidden global state)
    system               -> fork/exec or uv_spawn (no shell)

Every header must have an include guard: #ifndef X / #define X as its first
directives and a closing #endif last.  Comments and string literals are
ignored when looking for calls, so "see strcpy(3)" in a comment is fine.
"""

import os
import re
import sys

SOURCE_DIRS = ("engine", "feeds", "rules", "channels", "admin-api")

BANNED = {
    "atoi": "use anpi_parse_int64",
    "atol": "use anpi_parse_int64",
    "strcpy": "use snprintf, memcpy with a known length, or anpi_buf",
    "strcat": "use snprintf or anpi_buf",
    "sprintf": "use snprintf or anpi_xasprintf",
    "vsprintf": "use vsnprintf",
    "gets": "use fgets",
    "strtok": "use strtok_r",
    "system": "no shell: use fork/exec or uv_spawn",
}
# A call: the name not preceded by an identifier character, '.' or '->'
# (a struct member called `system` is fine), followed by '('.
CALL_RE = re.compile(r"(?<![\w.>])(" + "|".join(sorted(BANNED)) + r")\s*\(")


def strip_comments_and_strings(text):
    """Blank out comments, string and char literals, keeping newlines so that
    line numbers stay right."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j - 1]) + c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def check_calls(path, code):
    problems = []
    for lineno, line in enumerate(code.split("\n"), 1):
        if line.lstrip().startswith("#"):
            # "#define sprintf ..." tricks would still be caught at the use;
            # #include lines never hold calls.
            if not line.lstrip()[1:].lstrip().startswith("define"):
                continue
        for m in CALL_RE.finditer(line):
            name = m.group(1)
            problems.append("%s:%d: banned function %s(): %s" % (path, lineno, name, BANNED[name]))
    return problems


DIRECTIVE_RE = re.compile(r"^\s*#\s*(\w+)\s*(.*?)\s*$")


def check_guard(path, code):
    directives = []
    for lineno, line in enumerate(code.split("\n"), 1):
        m = DIRECTIVE_RE.match(line)
        if m:
            directives.append((lineno, m.group(1), m.group(2)))
    if any(d[1] == "pragma" and d[2] == "once" for d in directives):
        return []
    if len(directives) < 3:
        return ["%s:1: header has no include guard (#ifndef NAME / #define NAME ... #endif)" % path]
    (l1, d1, a1), (l2, d2, a2) = directives[0], directives[1]
    if d1 != "ifndef" or d2 != "define":
        return ["%s:%d: header has no include guard: the first directives must be "
                "#ifndef NAME / #define NAME" % (path, l1)]
    name = a1.split()[0] if a1 else ""
    if not name or a2.split()[:1] != [name]:
        return ["%s:%d: include guard mismatch: #ifndef %s but #define %s" % (path, l2, a1, a2)]
    # Nothing but whitespace may follow the closing #endif.
    lines = code.split("\n")
    last = directives[-1]
    if last[1] != "endif" or any(s.strip() for s in lines[last[0]:]):
        return ["%s:%d: include guard %s is not closed by a final #endif" % (path, last[0], name)]
    # Nothing but whitespace may come before the #ifndef.
    if any(s.strip() for s in lines[:l1 - 1]):
        return ["%s:%d: code before the include guard %s" % (path, l1, name)]
    return []


def check_file(path, shown=None):
    shown = shown or path
    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        return ["%s:1: not valid UTF-8 (%s)" % (shown, e.reason)]
    code = strip_comments_and_strings(text)
    problems = check_calls(shown, code)
    if path.endswith(".h"):
        problems += check_guard(shown, code)
    return problems


def tree_files(root):
    for d in SOURCE_DIRS:
        top = os.path.join(root, d)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in sorted(filenames):
                if name.endswith((".c", ".h")):
                    yield os.path.join(dirpath, name)


def main(argv):
    if argv[:1] == ["--files"]:
        files = argv[1:]
        root = None
    else:
        root = argv[0] if argv else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "..", "..")
        root = os.path.abspath(root)
        files = list(tree_files(root))
    problems = []
    for f in files:
        shown = os.path.relpath(f, root) if root else f
        problems += check_file(f, shown)
    for p in problems:
        print(p)
    print("checksrc: %d file(s), %d problem(s)" % (len(files), len(problems)),
          file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
