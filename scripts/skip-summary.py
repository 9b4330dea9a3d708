#!/usr/bin/env python3
"""Summary of what ctest did not run, from the JUnit files ctest writes
(ctest --output-junit FILE), for the end of scripts/test.sh:

    scripts/skip-summary.py STAGE=FILE [STAGE=FILE ...]

For each stage: how many tests passed, failed and were skipped, then every
skip grouped by its reason: the text after GoogleTest's "Skipped" line, the
"skipped: ..." line a script prints before exit code 77, or ctest's own
reason; which CPU instruction-set levels the isa.<level>.* entries ran at.
Ends with the total number of skipped tests. A stage whose file is
missing (the stage did not run or did not finish) is said to be so.
"""

import re
import sys
import xml.etree.ElementTree as ET
from collections import OrderedDict

GTEST_SKIP = re.compile(r"^[^\n]*: Skipped\n(.*?)\n\[  SKIPPED \]", re.S | re.M)
SCRIPT_SKIP = re.compile(r"^skipped: (.*)$", re.M)
ISA_ENTRY = re.compile(r"^isa\.(\w+)\.")


def reason_of(case):
    out = case.findtext("system-out") or ""
    m = GTEST_SKIP.search(out)
    if m and m.group(1).strip():
        return " ".join(m.group(1).split())
    m = SCRIPT_SKIP.search(out)
    if m:
        return m.group(1).strip()
    skipped = case.find("skipped")
    message = skipped.get("message") if skipped is not None else None
    return f"(no reason printed; ctest: {message or case.get('status')})"


def names(tests, limit=6):
    shown = ", ".join(tests[:limit])
    return shown + (f", … ({len(tests)} in all)" if len(tests) > limit else "")


def main(argv):
    total_skipped = 0
    print("== What did not run ==")
    for arg in argv:
        stage, _, path = arg.partition("=")
        try:
            root = ET.parse(path).getroot()
        except (OSError, ET.ParseError) as e:
            print(f"{stage}: no results ({e.__class__.__name__}: the stage did not run or did not finish)")
            continue
        cases = root.iter("testcase")
        passed, failed = 0, 0
        by_reason = OrderedDict()
        isa_levels = OrderedDict()  # ctest's isa.<level>.* entries that ran
        for case in cases:
            status = case.get("status")
            if status == "run":
                passed += 1
                m = ISA_ENTRY.match(case.get("name") or "")
                if m:
                    isa_levels[m.group(1)] = isa_levels.get(m.group(1), 0) + 1
            elif status == "fail":
                failed += 1
            else:
                by_reason.setdefault(reason_of(case), []).append(case.get("name"))
        skipped = sum(len(v) for v in by_reason.values())
        total_skipped += skipped
        print(f"{stage}: {passed} passed, {failed} failed, {skipped} skipped")
        if isa_levels:
            levels = ", ".join(f"{level} ({n} tests)" for level, n in isa_levels.items())
            print(f"  CPU instruction-set levels run: {levels}")
        for reason, tests in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
            print(f"  {len(tests):4d} skipped: {reason}")
            print(f"       {names(tests)}")
    print(f"Skipped tests in all: {total_skipped} (reasons above)")


if __name__ == "__main__":
    main(sys.argv[1:])
