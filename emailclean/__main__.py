"""`python -m emailclean`: the same command as the `emailclean` script."""

from emailclean.cli import main

if __name__ == "__main__":
    main()
