"""Stand-in `dnf` in an SSM sandbox: `dnf install [-y] <rpm URL>...` downloads from the
emulator's package source (packages.py); other package names are not found, as in a
VPC whose repositories are unreachable. Exits 1 as dnf does when a download fails."""

import json
import os
import sys
import urllib.request


def _download(url: str) -> dict[str, str]:
    body = json.dumps(
        {
            "account_id": os.environ.get("EMULATOR_ACCOUNT_ID", ""),
            "region": os.environ.get("EMULATOR_REGION", ""),
            "instance_id": os.environ.get("EMULATOR_INSTANCE_ID", ""),
            "url": url,
        }
    ).encode()
    request = urllib.request.Request(
        os.environ["EMULATOR_ENDPOINT"] + "/_emulator/package-source",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - the emulator's own endpoint
        return dict(json.loads(answer.read()))


def main(args: list[str]) -> int:
    words = [a for a in args if not a.startswith("-")]
    if not words or words[0] != "install":
        print(f"dnf (stand-in): only `install` is supported, got {args}", file=sys.stderr)
        return 2
    packages = words[1:]
    for package in packages:
        if not package.startswith(("https://", "http://")):
            print(f"No match for argument: {package}", file=sys.stderr)
            print(f"Error: Unable to find a match: {package}", file=sys.stderr)
            return 1
    for url in packages:
        answer = _download(url)
        if "error" in answer:
            print(f"[MIRROR] {url.rsplit('/', 1)[-1]}: {answer['error']}", file=sys.stderr)
            print(f"Error: Failed to download packages: {url.rsplit('/', 1)[-1]}: Cannot download, all mirrors were "
                  "already tried without success", file=sys.stderr)
            return 1
        print(f"Installed:\n  {answer['installed']}")
    print("Complete!")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
