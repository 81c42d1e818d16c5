"""``python -m jobmatch COMMAND ...``: the ``jobmatch`` console script (:mod:`jobmatch.cli.main`)."""

from jobmatch.cli.main import main

if __name__ == "__main__":
    main()
