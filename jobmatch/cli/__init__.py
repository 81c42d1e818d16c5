"""The command layer: the ``jobmatch`` console script (:mod:`jobmatch.cli.main`) and how every command
reports a failure (:mod:`jobmatch.cli.errors`)."""
