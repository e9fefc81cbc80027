import sys

from api.cli import run

raise SystemExit(run(sys.argv[1:]))
