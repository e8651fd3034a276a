"""A stand-in for TAPPaaS's module drivers: how they call a module's scripts, nothing more.

TAPPaaS (src/foundation/tappaas-cicd/scripts/*-module.sh) finds a module's folder in the
`.location` of /home/tappaas/config/<module>.json and a provider's service scripts in
`<provider folder>/services/<service>/`. For each `dependsOn: ["<provider>:<service>"]` of a
consuming module it runs the provider's `<action>-service.sh <consumer>`, from the consumer's
folder, not the provider's; then `./install.sh <module>`, `./update.sh <module>` or
`./test.sh <module>` in the module's own folder. A provider must have executable
install-service.sh and update-service.sh for every service in `provides`. A consumer with
`.variant V` uses provider `<provider>-V` when that one is installed. Service scripts take
`<consumer> [--dry-run]`. Their exit status decides: non-zero stops install and update (update
rolls back); for tests 1 is a failure and 2 fatal; delete goes on.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Step:
    script: Path
    args: list[str]
    cwd: Path
    returncode: int
    stdout: str
    stderr: str


@dataclass
class TappaasStandIn:
    config_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    def module(self, name: str) -> dict:
        return json.loads((self.config_dir / f"{name}.json").read_text())

    def location(self, name: str) -> Path:
        return Path(self.module(name)["location"])

    def _provider(self, provider: str, consumer: str) -> str:
        variant = self.module(consumer).get("variant") or ""
        if variant and (self.config_dir / f"{provider}-{variant}.json").is_file():
            return f"{provider}-{variant}"
        return provider

    def _run(self, script: Path, args: list[str], cwd: Path, timeout: float = 120) -> Step:
        env = {**os.environ, **self.env, "TAPPAAS_CONFIG_DIR": str(self.config_dir)}
        result = subprocess.run(
            [str(script), *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        step = Step(script, args, cwd, result.returncode, result.stdout, result.stderr)
        self.steps.append(step)
        return step

    def check_provided_services(self, name: str) -> list[str]:
        """validate_provided_services: what TAPPaaS would refuse (empty when fine)."""
        problems = []
        folder = self.location(name)
        for service in self.module(name).get("provides", []):
            for script in ("install-service.sh", "update-service.sh"):
                path = folder / "services" / service / script
                if not (path.is_file() and os.access(path, os.X_OK)):
                    problems.append(f"{path} missing or not executable")
        return problems

    def _services(self, consumer: str, action: str, *extra: str) -> list[Step]:
        steps = []
        for dep in self.module(consumer).get("dependsOn", []):
            provider, _, service = dep.partition(":")
            if not (self.config_dir / f"{provider}.json").is_file():
                continue  # cluster:vm and friends are not installed in the stand-in
            folder = self.location(self._provider(provider, consumer))
            script = folder / "services" / service / f"{action}-service.sh"
            steps.append(self._run(script, [consumer, *extra], cwd=self.location(consumer)))
            if steps[-1].returncode != 0 and action != "delete":
                break
        return steps

    def install_module(self, name: str) -> list[Step]:
        steps = self._services(name, "install")
        if any(s.returncode for s in steps):
            return steps
        folder = self.location(name)
        if (folder / "install.sh").is_file():
            steps.append(self._run(folder / "install.sh", [name], cwd=folder))
        return steps

    def update_module(self, name: str) -> list[Step]:
        steps = self._services(name, "update")
        if any(s.returncode for s in steps):
            return steps
        folder = self.location(name)
        if (folder / "update.sh").is_file():
            steps.append(self._run(folder / "update.sh", [name], cwd=folder))
        return steps

    def test_module(self, name: str) -> list[Step]:
        steps = self._services(name, "test")
        folder = self.location(name)
        if (folder / "test.sh").is_file():
            steps.append(self._run(folder / "test.sh", [name], cwd=folder))
        return steps

    def delete_module(self, name: str) -> list[Step]:
        return self._services(name, "delete")

    def service(self, provider: str, service: str, action: str, *args: str) -> Step:
        """A provider's service script run by hand, as TAPPaaS's --dry-run checks do."""
        script = self.location(provider) / "services" / service / f"{action}-service.sh"
        return self._run(script, list(args), cwd=self.config_dir)
