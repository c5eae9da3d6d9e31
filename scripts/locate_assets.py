"""Find the dataset files of a project workflow: ``python scripts/locate_assets.py LOCAL ASSETS DEST FILE...``.

Each FILE (a path relative to the data folder, e.g. ``webnlg/train_triples.json``) is taken from the
local copy LOCAL (``vars.data_dir``) when it is there, else from ASSETS (where ``spacy project
assets`` downloads the datasets declared in project.yml), and copied to DEST/FILE, which the later
commands read. When a file is in neither, the command fails and says how to get it.
"""
import shutil
import sys
from pathlib import Path
from typing import List, Sequence


def locate(local: Path, assets: Path, dest: Path, files: Sequence[str]) -> List[str]:
    """Copy every file to ``dest``; returns one line per file saying where it came from. Raises
    FileNotFoundError naming every missing file and the fixes."""
    local, assets, dest = Path(local), Path(assets), Path(dest)
    missing, found = [], []
    for name in files:
        source = next((folder / name for folder in (local, assets) if (folder / name).is_file()), None)
        if source is None:
            missing.append(name)
        else:
            found.append((name, source))
    if missing:
        raise FileNotFoundError(
            f"Dataset file{'s' * (len(missing) > 1)} {', '.join(missing)} not found in the local copy "
            f"'{local}' (vars.data_dir) nor in the assets folder '{assets}'. Either run "
            "`spacy project assets` in this folder to download the datasets declared in project.yml "
            "(needs git access to GitHub), or point --vars.data_dir at a folder that holds them."
        )
    lines = []
    for name, source in found:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        # copy only when the content changed, so the project lock (md5 of the outputs) stays put
        if not target.is_file() or target.read_bytes() != source.read_bytes():
            shutil.copyfile(source, target)
        lines.append(f"{name}: from {source}")
    return lines


def main(argv: Sequence[str] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    local, assets, dest, *files = argv
    try:
        for line in locate(Path(local), Path(assets), Path(dest), files):
            print(line)
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
