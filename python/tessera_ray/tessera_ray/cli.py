"""Finding and running the `tessera` binary."""
import os
import shutil
import subprocess
from pathlib import Path


def tessera_binary(explicit=None) -> str:
    """`explicit`, else $TESSERA_CLI, else `tessera` on the PATH."""
    path = explicit or os.environ.get("TESSERA_CLI") or shutil.which("tessera")
    if not path or not Path(path).exists():
        raise FileNotFoundError("no tessera binary: pass cli=PATH, set TESSERA_CLI or put tessera on the PATH")
    return str(Path(path).resolve())


def run(cli, *args, check=True):
    """Runs `tessera ARGS`; a failure raises with the command's standard error."""
    r = subprocess.run([cli, *map(str, args)], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"tessera {' '.join(map(str, args))} exited {r.returncode}: {r.stderr.strip()}")
    return r
