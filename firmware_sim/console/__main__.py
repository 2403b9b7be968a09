"""`python -m firmware_sim.console --help`."""

from firmware_sim.console.cli import console_command

if __name__ == "__main__":
    console_command(prog_name="python -m firmware_sim.console")
