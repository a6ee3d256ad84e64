"""``cai-client``: the client's verbs from a shell (``CAI_URL``, ``CAI_TOKEN``, ``CAI_TEAM``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .client import ApiError, Client, RunFailed


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _pairs(items: list[str], what: str) -> dict[str, Any]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"{what} {item!r}: write key=value")
        out[key] = _value(value)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cai-client", description=__doc__)
    parser.add_argument("--url", default=os.environ.get("CAI_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("CAI_TOKEN", ""))
    parser.add_argument("--team", default=os.environ.get("CAI_TEAM", ""))
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("teams", help="the teams this token can use")
    up = sub.add_parser("upload-prompts", help="upload a prompt file as a prompt set")
    up.add_argument("file")
    up.add_argument("--name", required=True)
    up.add_argument("--held-out-fraction", type=float, default=0.1)
    start = sub.add_parser("start-run", help="start a run of any kind")
    start.add_argument("kind")
    start.add_argument("--input", action="append", default=[], help="role=id")
    start.add_argument("--set", action="append", default=[], help="option=value (JSON)")
    start.add_argument("--name", default="")
    start.add_argument("--wait", action="store_true")
    wait = sub.add_parser("wait", help="wait for a run to finish")
    wait.add_argument("run", type=int)
    dl = sub.add_parser("download-label-set", help="download an approved label set")
    dl.add_argument("label_set", type=int)
    dl.add_argument("dest")
    dl.add_argument("--format", choices=("jsonl", "csv"), default="jsonl")
    dl.add_argument("--any-status", action="store_true", help="also if not approved")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("give --token or set CAI_TOKEN")
    if args.command != "teams" and not args.team:
        parser.error("give --team or set CAI_TEAM")

    def progress(run: dict[str, Any]) -> None:
        p = run["progress"]
        print(f"run {run['id']} {run['status']} {p['percent']:.0f}% {p['stage']}", file=sys.stderr)

    with Client(args.url, token=args.token, team=args.team) as cai:
        try:
            if args.command == "teams":
                out: Any = cai.teams()
            elif args.command == "upload-prompts":
                out = cai.upload_prompts(
                    args.file, name=args.name, held_out_fraction=args.held_out_fraction
                )
            elif args.command == "start-run":
                out = cai.start_run(
                    args.kind,
                    inputs=_pairs(args.input, "--input"),
                    config=_pairs(args.set, "--set"),
                    name=args.name,
                )
                if args.wait:
                    out = cai.wait(out, on_progress=progress)
            elif args.command == "wait":
                out = cai.wait(args.run, on_progress=progress)
            else:
                out = str(
                    cai.download_label_set(
                        args.label_set,
                        args.dest,
                        format=args.format,
                        require_approved=not args.any_status,
                    )
                )
        except (ApiError, RunFailed) as exc:
            print(f"cai-client: {exc}", file=sys.stderr)
            return 1
    print(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
