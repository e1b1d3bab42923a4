#!/usr/bin/env python3
"""Generates the data dictionary and UID registry of Hounsfield.Dicom from the PS3.6 tables.

Usage (from the repository root):

    python3 scripts/generate-dictionary.py [SOURCE_DIR] [--check]

SOURCE_DIR holds data-dictionary.tsv and uids.tsv (see its README.md); it defaults to
../shared/dicom-standard relative to the repository root. With --check nothing is written: the
script exits with status 1 when a generated file is missing or differs from what it would write.

Outputs (under src/Hounsfield.Dicom/Dictionary/):
  DicomDictionary.tsv        embedded resource loaded lazily by DicomDictionary
  DicomTag.Generated.cs      one static DicomTag property per keyword of a single-tag entry
  DicomUids.Generated.cs     one constant per UID keyword and the registry table behind DicomUids.Find

Python 3 standard library only; the output is deterministic (sorted, LF line endings, no timestamps).
"""

import argparse
import csv
import html
import os
import re
import sys

EDITION = "2024d"
GENERATOR = "scripts/generate-dictionary.py"
OUTPUT_DIR = os.path.join("src", "Hounsfield.Dicom", "Dictionary")

# The VRs of PS3.5 Table 6.2-1; "NONE" (items and delimiters) is written "--".
KNOWN_VRS = {
    "AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO", "LT", "OB", "OD", "OF", "OL", "OV",
    "OW", "PN", "SH", "SL", "SQ", "SS", "ST", "SV", "TM", "UC", "UI", "UL", "UN", "UR", "US", "UT", "UV",
}

# Members DicomTag declares by hand (DicomTag.cs) or inherits; a generated field may not reuse these names.
DICOM_TAG_MEMBERS = {
    "DicomTag", "Value", "Group", "Element", "IsPrivate", "IsPrivateCreator", "IsGroupLength",
    "PrivateCreatorTag", "Item", "ItemDelimitationItem", "SequenceDelimitationItem", "Equals",
    "GetHashCode", "CompareTo", "ToString", "ToHexString", "Parse", "TryParse", "GetType",
    "MemberwiseClone", "ReferenceEquals", "Finalize",
}

# Members of DicomUids written by hand (DicomUids.cs).
DICOM_UIDS_MEMBERS = {
    "DicomUids", "Find", "All", "Registry", "RegistryText", "Equals", "GetHashCode", "ToString",
    "GetType", "MemberwiseClone", "ReferenceEquals", "Finalize",
}

CSHARP_KEYWORDS = set("""
abstract as base bool break byte case catch char checked class const continue decimal default delegate do
double else enum event explicit extern false finally fixed float for foreach goto if implicit in int interface
internal is lock long namespace new null object operator out override params private protected public readonly
ref return sbyte sealed short sizeof stackalloc static string struct switch this throw true try typeof uint
ulong unchecked unsafe ushort using virtual void volatile while
""".split())

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TAG = re.compile(r"\(([0-9A-Fx]{4}),([0-9A-Fx]{4})\)")
UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*")


def fail(message):
    sys.exit(f"generate-dictionary: {message}")


def read_tsv(path, required):
    if not os.path.isfile(path):
        fail(f"{path} not found (pass the folder holding the PS3.6 tables as the first argument)")
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        missing = [column for column in required if column not in (reader.fieldnames or [])]
        if missing:
            fail(f"{path}: missing columns {missing}")
        rows = []
        for number, row in enumerate(reader, start=2):
            for column in required:
                value = row[column] or ""
                if value != value.strip() or any(ch in value for ch in "\t\r\n"):
                    fail(f"{path}:{number}: column {column} has surrounding or control whitespace")
                row[column] = value
            row["_line"] = number
            rows.append(row)
        return rows


def name_from_keyword(keyword):
    """'CurrentFrameFunctionalGroupsSequence' -> 'Current Frame Functional Groups Sequence'."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", keyword)


def parse_tag(text, where):
    match = TAG.fullmatch(text)
    if not match:
        fail(f"{where}: bad tag {text!r}")
    digits = match.group(1) + match.group(2)
    value = int(digits.replace("x", "0"), 16)
    mask = int("".join("0" if ch == "x" else "F" for ch in digits), 16)
    return digits, value, mask


def load_dictionary(source):
    rows = read_tsv(os.path.join(source, "data-dictionary.tsv"), ["tag", "vr", "vm", "keyword", "name", "retired"])
    entries = []
    seen_tags = set()
    for row in rows:
        where = f"data-dictionary.tsv:{row['_line']}"
        digits, value, mask = parse_tag(row["tag"], where)
        if digits in seen_tags:
            fail(f"{where}: duplicate tag {row['tag']}")
        seen_tags.add(digits)
        if row["vr"] == "NONE":
            vrs = ["--"]
        else:
            vrs = row["vr"].split(" or ")
            unknown = [vr for vr in vrs if vr not in KNOWN_VRS]
            if unknown:
                fail(f"{where}: unknown VR {row['vr']!r}")
        if not re.fullmatch(r"[0-9]+(-([0-9]*n|[0-9]+))?", row["vm"]):
            fail(f"{where}: bad VM {row['vm']!r}")
        if row["retired"] not in ("Y", "N"):
            fail(f"{where}: retired must be Y or N, not {row['retired']!r}")
        keyword = row["keyword"]
        if keyword and not IDENTIFIER.fullmatch(keyword):
            fail(f"{where}: keyword {keyword!r} is not an identifier")
        name = row["name"] or name_from_keyword(keyword)
        if not name:
            fail(f"{where}: neither name nor keyword")
        entries.append({
            "digits": digits, "value": value, "mask": mask, "vrs": vrs, "vm": row["vm"],
            "keyword": keyword, "name": name, "retired": row["retired"] == "Y",
        })
    keywords = {}
    for entry in entries:
        if entry["keyword"]:
            if entry["keyword"] in keywords:
                fail(f"keyword {entry['keyword']} is used by {keywords[entry['keyword']]} and {entry['digits']}")
            keywords[entry["keyword"]] = entry["digits"]
    # Tag order; a mask sorts where its lowest match would, e.g. (60xx,3000) as (6000,3000), after an exact
    # entry of the same value ((0028,0400) Transform Label before (0028,04x0)).
    entries.sort(key=lambda e: (e["value"], -e["mask"]))
    return entries


def load_uids(source):
    rows = read_tsv(os.path.join(source, "uids.tsv"), ["uid", "name", "keyword", "type", "info", "retired"])
    uids = []
    seen = set()
    for row in rows:
        where = f"uids.tsv:{row['_line']}"
        if not UID.fullmatch(row["uid"]) or len(row["uid"]) > 64:
            fail(f"{where}: bad UID {row['uid']!r}")
        if row["uid"] in seen:
            fail(f"{where}: duplicate UID {row['uid']}")
        seen.add(row["uid"])
        if row["retired"] not in ("Y", "N"):
            fail(f"{where}: retired must be Y or N")
        if row["keyword"] and not IDENTIFIER.fullmatch(row["keyword"]):
            fail(f"{where}: keyword {row['keyword']!r} is not an identifier")
        uids.append({
            "uid": row["uid"], "name": row["name"], "keyword": row["keyword"], "type": row["type"],
            "info": row["info"], "retired": row["retired"] == "Y",
        })
    uids.sort(key=lambda u: [int(part) for part in u["uid"].split(".")])
    return uids


def header(comment):
    return [
        f"{comment} <auto-generated>",
        f"{comment} Generated by {GENERATOR} from the DICOM PS3.6 tables, edition {EDITION}",
        f"{comment} (data-dictionary.tsv and uids.tsv of ../shared/dicom-standard). Do not edit: change the",
        f"{comment} generator or its input and run it again from the repository root.",
        f"{comment} </auto-generated>",
    ]


def render_dictionary_tsv(entries):
    lines = header("#")
    lines.append("# tag\tvr\tvm\tretired\tkeyword\tname   (tag: GGGGEEEE hex, x = any digit; vr: '/'-separated, -- = none)")
    for e in entries:
        lines.append("\t".join([
            e["digits"], "/".join(e["vrs"]), e["vm"], "Y" if e["retired"] else "N", e["keyword"], e["name"],
        ]))
    return "\n".join(lines) + "\n"


def csharp_string(text):
    """A C# regular string literal; the inputs are printable ASCII plus tab and newline."""
    escapes = {"\\": "\\\\", '"': '\\"', "\t": "\\t", "\n": "\\n"}
    return '"' + "".join(escapes.get(ch, ch) for ch in text) + '"'


def render_tag_fields(entries):
    lines = header("//")
    lines += [
        "",
        "namespace Hounsfield.Dicom;",
        "",
        "// Properties rather than static readonly fields: 5000 struct fields would make DicomTag's static constructor",
        "// (run on the first use of any static field, DicomTag.Item included) cost tens of milliseconds; a property",
        "// costs nothing until used and is inlined to a constant.",
        "public readonly partial struct DicomTag",
        "{",
    ]
    skipped = []
    first = True
    for e in entries:
        keyword = e["keyword"]
        if e["mask"] != 0xFFFFFFFF or not keyword:
            continue
        if keyword in DICOM_TAG_MEMBERS or keyword in CSHARP_KEYWORDS:
            skipped.append(keyword)
            continue
        if not first:
            lines.append("")
        first = False
        group, element = e["value"] >> 16, e["value"] & 0xFFFF
        retired = " (retired)" if e["retired"] else ""
        summary = f"({group:04X},{element:04X}) {e['name']}, {'/'.join(e['vrs'])}, VM {e['vm']}{retired}."
        lines.append(f"    /// <summary>{html.escape(summary, quote=False)}</summary>")
        lines.append(f"    public static DicomTag {keyword} => new(0x{group:04X}, 0x{element:04X});")
    lines.append("}")
    return "\n".join(lines) + "\n", skipped


def render_uids(uids):
    lines = header("//")
    lines += [
        "",
        "namespace Hounsfield.Dicom;",
        "",
        "public static partial class DicomUids",
        "{",
    ]
    constants = set()
    for u in uids:
        keyword = u["keyword"]
        if not keyword or keyword in DICOM_UIDS_MEMBERS or keyword in CSHARP_KEYWORDS or keyword in constants:
            continue
        constants.add(keyword)
        retired = " (retired)" if u["retired"] else ""
        summary = f"{u['name']}: {u['type']}{retired}."
        lines.append(f"    /// <summary>{html.escape(summary, quote=False)}</summary>")
        lines.append(f"    public const string {keyword} = {csharp_string(u['uid'])};")
        lines.append("")
    # One constant string, parsed on first use: cheaper to load than a 490-element array initialiser.
    lines.append("    /// <summary>")
    lines.append("    /// The PS3.6 Annex A registry in UID order, one UID a line with the tab-separated columns uid, name,")
    lines.append("    /// keyword, type, info, retired (Y/N).")
    lines.append("    /// </summary>")
    lines.append("    private const string RegistryText =")
    for index, u in enumerate(uids):
        row = "\t".join([u["uid"], u["name"], u["keyword"], u["type"], u["info"], "Y" if u["retired"] else "N"])
        end = ";" if index == len(uids) - 1 else " +"
        lines.append(f"        {csharp_string(row + chr(10))}{end}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main():
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", nargs="?", default=os.path.join(repo_root, "..", "shared", "dicom-standard"),
                        help="folder holding data-dictionary.tsv and uids.tsv")
    parser.add_argument("--check", action="store_true", help="verify the generated files are up to date")
    args = parser.parse_args()

    entries = load_dictionary(args.source)
    uids = load_uids(args.source)
    tag_fields, skipped = render_tag_fields(entries)
    outputs = {
        "DicomDictionary.tsv": render_dictionary_tsv(entries),
        "DicomTag.Generated.cs": tag_fields,
        "DicomUids.Generated.cs": render_uids(uids),
    }

    stale = []
    for file_name, text in outputs.items():
        path = os.path.join(repo_root, OUTPUT_DIR, file_name)
        data = text.encode("utf-8")
        current = None
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                current = handle.read()
        if current == data:
            continue
        stale.append(path)
        if not args.check:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(data)

    masks = sum(1 for e in entries if e["mask"] != 0xFFFFFFFF)
    print(f"{len(entries)} data elements ({masks} masks), {len(uids)} UIDs; "
          f"keywords without a DicomTag property (clash with hand-written members): {', '.join(skipped) or 'none'}")
    if args.check:
        for path in stale:
            print(f"out of date: {os.path.relpath(path, repo_root)}")
        return 1 if stale else 0
    for path in stale:
        print(f"wrote {os.path.relpath(path, repo_root)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
