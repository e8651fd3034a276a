"""`python -m tappaas_litellm`."""

from tappaas_litellm.cli import main

if __name__ == "__main__":
    main(prog_name="tappaas-litellm")
