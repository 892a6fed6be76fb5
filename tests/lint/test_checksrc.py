"""Self-test of checksrc.py: planted problems are found, clean code passes,
comments and strings do not count.  Prints TAP."""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKSRC = os.path.join(HERE, "checksrc.py")

CASES = [
    # (file name, content, substrings that must be reported; [] = clean)
    ("calls.c",
     "/* strcpy(a, b) in a comment is fine */\n"
     "const char *s = \"atoi(x) in a string\";\n"
     "int f(char *b, const char *x, struct q *p) {\n"
     "    p->system(1);\n"
     "    strcpy(b, x);\n"
     "    sprintf(b, \"%d\", 1);\n"
     "    return atoi (x) + (int)atol(x) + (strtok(b, \",\") != 0);\n"
     "}\n",
     ["calls.c:5: banned function strcpy()", "calls.c:6: banned function sprintf()",
      "calls.c:7: banned function atoi()", "calls.c:7: banned function atol()",
      "calls.c:7: banned function strtok()"]),
    ("more.c", "void g(char *b, const char *x) { strcat(b, x); system(x); gets(b); }\n",
     ["banned function strcat()", "banned function system()", "banned function gets()"]),
    ("clean.c",
     "#include <string.h>\n"
     "int h(char *b, size_t n, const char *x) {\n"
     "    char *save; (void)strtok_r(b, \",\", &save);\n"
     "    return snprintf(b, n, \"%s\", x);\n"
     "}\n", []),
    ("good.h", "/* comment */\n#ifndef GOOD_H\n#define GOOD_H\nint x;\n#endif\n", []),
    ("noguard.h", "int x;\n", ["noguard.h:1: header has no include guard"]),
    ("mismatch.h", "#ifndef A_H\n#define B_H\n#endif\n", ["include guard mismatch"]),
    ("open.h", "#ifndef O_H\n#define O_H\n#endif\nint y;\n", ["not closed by a final #endif"]),
]


def main():
    print("1..%d" % len(CASES))
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, text, expect) in enumerate(CASES, 1):
            path = os.path.join(tmp, name)
            with open(path, "w") as f:
                f.write(text)
            res = subprocess.run([sys.executable, CHECKSRC, "--files", path],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
            out = res.stdout.decode()
            ok = (res.returncode == (1 if expect else 0)
                  and all(e in out for e in expect)
                  and len(out.splitlines()) == len(expect))
            print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
            if not ok:
                failed += 1
                print("# exit %d, output:\n# %s" % (res.returncode, out.replace("\n", "\n# ")))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
