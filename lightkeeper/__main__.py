import sys

from lightkeeper.cli.main import main

sys.exit(main())
