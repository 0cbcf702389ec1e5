import os
import sys

from bench import watchdog
from bench.cli import main

code = main()
if watchdog.ABANDONED:
    # Finalising a stopped strategy's coroutines could run its code again (and spin in a bare
    # ``except``): everything is written, so leave without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
