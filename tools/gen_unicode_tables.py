#!/usr/bin/env python3
"""Generates the Unicode tables of dsgw's tokenizer from Python's unicodedata.

Writes backends/local/tokenizer/unicode_tables.h and unicode_tables.cpp:

  * character classes used by the pre-tokenizer regexes of HF tokenizers:
    \\p{L} (Lu Ll Lt Lm Lo), \\p{N} (Nd Nl No) and \\s, which in the regex
    engines that HF tokenizers uses (Oniguruma, Rust `regex`) is the Unicode
    White_Space property;
  * the assigned code points (everything but Cn), for diagnostics;
  * NFC data: canonical combining classes, full canonical decompositions
    (Hangul syllables excluded: they are algorithmic), primary compositions
    (composition exclusions, singletons and non-starter decompositions
    removed) and the NFC_Quick_Check property (Maybe / No).

All tables are sorted ranges or sorted entries, not per-code-point arrays.

Usage: python3 tools/gen_unicode_tables.py [OUT_DIR]
       (default OUT_DIR: backends/local/tokenizer next to this script)
"""

import os
import sys
import unicodedata

MAX_CP = 0x10FFFF

# White_Space from PropList.txt. unicodedata has no White_Space property and
# str.isspace() differs from it (it says yes to U+001C..U+001F), so the list is
# spelled out; it has been stable since Unicode 6.3 (U+180E left it then).
WHITE_SPACE = (
    list(range(0x0009, 0x000D + 1)) + [0x0020, 0x0085, 0x00A0, 0x1680]
    + list(range(0x2000, 0x200A + 1)) + [0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
)

CLASS_OTHER, CLASS_LETTER, CLASS_NUMBER, CLASS_WHITE_SPACE = 0, 1, 2, 3
QC_YES, QC_MAYBE, QC_NO = 0, 1, 2

HANGUL_S_BASE, HANGUL_S_COUNT = 0xAC00, 11172
HANGUL_V_FIRST, HANGUL_V_LAST = 0x1161, 0x1175
HANGUL_T_FIRST, HANGUL_T_LAST = 0x11A8, 0x11C2


def is_surrogate(cp):
    return 0xD800 <= cp <= 0xDFFF


def ranges_of(values):
    """values: dict cp -> value (non-default). Returns [(first, last, value)]."""
    out = []
    for cp in sorted(values):
        v = values[cp]
        if out and out[-1][1] == cp - 1 and out[-1][2] == v:
            out[-1][1] = cp
        else:
            out.append([cp, cp, v])
    return [tuple(r) for r in out]


def char_classes():
    ws = set(WHITE_SPACE)
    classes = {}
    for cp in range(MAX_CP + 1):
        if cp in ws:
            classes[cp] = CLASS_WHITE_SPACE
            continue
        cat = unicodedata.category(chr(cp))
        if cat[0] == "L":
            classes[cp] = CLASS_LETTER
        elif cat[0] == "N":
            classes[cp] = CLASS_NUMBER
    # White_Space must not overlap \p{L} / \p{N}, and every Zs/Zl/Zp is White_Space.
    for cp in ws:
        assert unicodedata.category(chr(cp))[0] not in "LN", hex(cp)
    for cp in range(MAX_CP + 1):
        if unicodedata.category(chr(cp)) in ("Zs", "Zl", "Zp"):
            assert cp in ws, hex(cp)
    return ranges_of(classes)


def assigned_ranges():
    assigned = {cp: 1 for cp in range(MAX_CP + 1) if unicodedata.category(chr(cp)) != "Cn"}
    return [(a, b) for a, b, _ in ranges_of(assigned)]


def canonical_single(cp):
    """Single-level canonical decomposition, or None."""
    d = unicodedata.decomposition(chr(cp))
    if not d or d.startswith("<"):
        return None
    return [int(x, 16) for x in d.split()]


def canonical_full(cp):
    single = canonical_single(cp)
    if single is None:
        return None
    out = []
    for c in single:
        sub = canonical_full(c)
        out.extend(sub if sub is not None else [c])
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        here, "..", "backends", "local", "tokenizer")
    version = unicodedata.unidata_version

    classes = char_classes()
    assigned = assigned_ranges()

    ccc = {}
    for cp in range(MAX_CP + 1):
        c = unicodedata.combining(chr(cp))
        if c:
            ccc[cp] = c
    ccc_ranges = ranges_of(ccc)

    decomps = []  # (cp, [full decomposition])
    compositions = []  # (first, second, composite)
    qc = {}
    for cp in range(MAX_CP + 1):
        if is_surrogate(cp):
            continue
        ch = chr(cp)
        if HANGUL_S_BASE <= cp < HANGUL_S_BASE + HANGUL_S_COUNT:
            continue  # algorithmic
        full = canonical_full(cp)
        if full is not None:
            assert unicodedata.normalize("NFD", ch) == "".join(map(chr, full)), hex(cp)
            decomps.append((cp, full))
            single = canonical_single(cp)
            if not unicodedata.is_normalized("NFC", ch):
                qc[cp] = QC_NO
            elif len(single) == 2:
                # A primary composite: NFC maps its decomposition back to it.
                assert unicodedata.normalize("NFC", chr(single[0]) + chr(single[1])) == ch, hex(cp)
                compositions.append((single[0], single[1], cp))
        elif not unicodedata.is_normalized("NFC", ch):
            qc[cp] = QC_NO
    for _, second, _ in compositions:
        if second not in qc:
            qc[second] = QC_MAYBE
    for cp in list(range(HANGUL_V_FIRST, HANGUL_V_LAST + 1)) + list(range(HANGUL_T_FIRST, HANGUL_T_LAST + 1)):
        qc[cp] = QC_MAYBE
    compositions.sort()
    qc_ranges = ranges_of(qc)

    data = []
    entries = []
    for cp, full in decomps:
        entries.append((cp, len(data), len(full)))
        data.extend(full)
    assert len(data) < 65536 and max(len(f) for _, f in decomps) < 256

    header = f"""// GENERATED by tools/gen_unicode_tables.py from Python {sys.version.split()[0]}'s
// unicodedata. Do not edit; rerun the script. Unicode version {version}.
#pragma once

#include <cstdint>
#include <span>

namespace dsgw::local::unicode {{

// The Unicode version these tables describe.
inline constexpr char kUnicodeVersion[] = "{version}";

// Values of CodePointRange::value in char_class_ranges().
inline constexpr uint8_t kClassOther = {CLASS_OTHER};
inline constexpr uint8_t kClassLetter = {CLASS_LETTER};      // \\p{{L}}
inline constexpr uint8_t kClassNumber = {CLASS_NUMBER};      // \\p{{N}}
inline constexpr uint8_t kClassWhiteSpace = {CLASS_WHITE_SPACE};  // \\s = White_Space
// Values of CodePointRange::value in nfc_quick_check_ranges().
inline constexpr uint8_t kNfcQcMaybe = {QC_MAYBE};
inline constexpr uint8_t kNfcQcNo = {QC_NO};

struct CodePointRange {{
  char32_t first;
  char32_t last;  // inclusive
  uint8_t value;
}};

struct DecompositionEntry {{
  char32_t code_point;
  uint16_t offset;  // into decomposition_data()
  uint8_t length;
}};

struct CompositionEntry {{
  char32_t first;
  char32_t second;
  char32_t composite;
}};

// Sorted, disjoint ranges of code points whose class is not kClassOther.
std::span<const CodePointRange> char_class_ranges();
// Sorted, disjoint ranges of assigned code points (general category not Cn); value unused.
std::span<const CodePointRange> assigned_ranges();
// Sorted ranges of code points with a non-zero canonical combining class (the value).
std::span<const CodePointRange> combining_class_ranges();
// Sorted by code_point: full canonical decompositions, Hangul syllables excluded.
std::span<const DecompositionEntry> decompositions();
std::span<const char32_t> decomposition_data();
// Sorted by (first, second): primary composites, Hangul excluded.
std::span<const CompositionEntry> compositions();
// Sorted ranges of code points whose NFC_Quick_Check is Maybe or No (the value).
std::span<const CodePointRange> nfc_quick_check_ranges();

}}  // namespace dsgw::local::unicode
"""

    def fmt_ranges(name, rngs, with_value=True):
        lines = [f"constexpr CodePointRange {name}[] = {{"]
        row = []
        for r in rngs:
            v = r[2] if with_value else 0
            row.append(f"{{0x{r[0]:X}, 0x{r[1]:X}, {v}}}")
            if len(row) == 5:
                lines.append("    " + ", ".join(row) + ",")
                row = []
        if row:
            lines.append("    " + ", ".join(row) + ",")
        lines.append("};")
        return "\n".join(lines)

    def fmt_list(items, per_line):
        lines = []
        for i in range(0, len(items), per_line):
            lines.append("    " + ", ".join(items[i:i + per_line]) + ",")
        return "\n".join(lines)

    body = [f"""// GENERATED by tools/gen_unicode_tables.py from Python {sys.version.split()[0]}'s
// unicodedata. Do not edit; rerun the script. Unicode version {version}.
// {len(classes)} class ranges, {len(assigned)} assigned ranges, {len(ccc_ranges)} combining-class
// ranges, {len(decomps)} decompositions, {len(compositions)} compositions, {len(qc_ranges)} quick-check ranges.
#include "backends/local/tokenizer/unicode_tables.h"

namespace dsgw::local::unicode {{
namespace {{
"""]
    body.append(fmt_ranges("kCharClassRanges", classes))
    body.append(fmt_ranges("kAssignedRanges", [(a, b, 0) for a, b in assigned], with_value=False))
    body.append(fmt_ranges("kCombiningClassRanges", ccc_ranges))
    body.append("constexpr DecompositionEntry kDecompositions[] = {\n" + fmt_list(
        [f"{{0x{cp:X}, {off}, {n}}}" for cp, off, n in entries], 6) + "\n};")
    body.append("constexpr char32_t kDecompositionData[] = {\n" + fmt_list(
        [f"0x{c:X}" for c in data], 12) + "\n};")
    body.append("constexpr CompositionEntry kCompositions[] = {\n" + fmt_list(
        [f"{{0x{a:X}, 0x{b:X}, 0x{c:X}}}" for a, b, c in compositions], 4) + "\n};")
    body.append(fmt_ranges("kNfcQuickCheckRanges", qc_ranges))
    body.append("""}  // namespace

std::span<const CodePointRange> char_class_ranges() { return kCharClassRanges; }
std::span<const CodePointRange> assigned_ranges() { return kAssignedRanges; }
std::span<const CodePointRange> combining_class_ranges() { return kCombiningClassRanges; }
std::span<const DecompositionEntry> decompositions() { return kDecompositions; }
std::span<const char32_t> decomposition_data() { return kDecompositionData; }
std::span<const CompositionEntry> compositions() { return kCompositions; }
std::span<const CodePointRange> nfc_quick_check_ranges() { return kNfcQuickCheckRanges; }

}  // namespace dsgw::local::unicode
""")
    with open(os.path.join(out_dir, "unicode_tables.h"), "w", encoding="utf-8") as f:
        f.write(header)
    with open(os.path.join(out_dir, "unicode_tables.cpp"), "w", encoding="utf-8") as f:
        f.write("\n\n".join(body))
    print(f"Unicode {version}: {len(classes)} class ranges, {len(assigned)} assigned ranges, "
          f"{len(ccc_ranges)} ccc ranges, {len(decomps)} decompositions, "
          f"{len(compositions)} compositions, {len(qc_ranges)} quick-check ranges")


if __name__ == "__main__":
    main()
