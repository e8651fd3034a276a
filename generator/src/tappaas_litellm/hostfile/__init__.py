"""The host file: the module file in, `hosts/<vmname>/default.nix` out.

Module file, zones, sizing, rendering, Nix strings, the template and the bundled zones table.
Nothing here talks to another machine: it reads and writes files and evaluates Nix locally.
"""
