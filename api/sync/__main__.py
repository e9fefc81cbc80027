import sys

from api.sync.cli import run

raise SystemExit(run(sys.argv[1:]))
