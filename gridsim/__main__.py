from gridsim.cli import entry

entry()
