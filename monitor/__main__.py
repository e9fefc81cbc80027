import sys

from monitor.cli import run

raise SystemExit(run(sys.argv[1:]))
