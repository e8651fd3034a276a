"""docs/options.md is what the modules' option declarations say today."""

from __future__ import annotations

import difflib

from optionsdoc import OPTIONS_MD, REGENERATE, declared_options, render


def test_options_md_is_written_from_the_declarations() -> None:
    options = declared_options()
    names = {option["name"] for option in options}
    # Options of every part of the module and of the VM profile are there.
    for name in (
        "tappaas.litellm.enable",
        "tappaas.litellm.database.package",
        "tappaas.litellm.serviceKeys.<name>.models",
        "tappaas.litellm.datastore.gateways.<name>.address",
        "tappaas.litellm.metrics.enable",
        "tappaas.vm.proxmox.vmid",
    ):
        assert name in names, name
    expected = render(options)
    shown = OPTIONS_MD.read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            shown.splitlines(keepends=True),
            expected.splitlines(keepends=True),
            "docs/options.md",
            "the declarations",
        )
    )
    assert shown == expected, f"docs/options.md is out of date; run {REGENERATE}\n{diff}"
